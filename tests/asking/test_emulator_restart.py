"""A parent's answer listener survives a restarted Pub/Sub emulator (issue 11: a fresh emulator has no subscriptions,
and the streaming pull stopped with `NotFound`, failing every waiting question). This test starts its OWN emulator on
a fixed port, and stops and starts it again on that port."""

import logging
import queue
import time
import uuid

import pytest

from octue_beam.asking.answers import ListenerFailed
from octue_beam.asking.session import AskingSession
from octue_beam.emulators.pubsub import PubSubEmulator, free_port
from octue_beam.messaging import events
from octue_beam.messaging.attributes import question_attributes, response_attributes
from octue_beam.messaging.publishing import OrderedBatchPublisher

PROJECT = "octue-beam-restart-test"
PARENT = "octue-beam-tests/restart-parent:local"
CHILD = "octue-beam-tests/restart-child:local"


@pytest.fixture
def emulator():
    own = PubSubEmulator(port=free_port())
    own.start()
    try:
        yield own
    finally:
        own.stop()


def next_event(events_queue: queue.Queue, timeout: float = 60) -> tuple:
    item = events_queue.get(timeout=timeout)
    assert not isinstance(item, ListenerFailed), item.error
    return item


def test_a_waiting_question_gets_its_answer_after_the_emulator_restarts(emulator, caplog):
    topic = f"test.restart.{uuid.uuid4().hex[:8]}"
    host = emulator.host_port
    session = AskingSession()
    question = question_attributes(sender=PARENT, recipient=CHILD, sender_sdk_version="0.1.0")
    response = response_attributes(question, "0.1.0")
    try:
        listener = session.listener(PROJECT, PARENT, topic, host)
        waiting = listener.register(question["question_uuid"])
        publisher = OrderedBatchPublisher(PROJECT, topic, emulator_host=host)
        try:
            publisher.publish(events.delivery_acknowledgement(), response, wait=True)
            before, _, _, _ = next_event(waiting)
            assert before["kind"] == "delivery_acknowledgement"

            with caplog.at_level(logging.WARNING, logger="octue_beam.asking.answers"):
                emulator.stop()
                emulator.start()  # the same port: a fresh emulator without the topic or the subscription
                assert emulator.host_port == host
                deadline = time.monotonic() + 120
                while listener.recoveries == 0:
                    assert time.monotonic() < deadline, "the listener did not recreate its subscription"
                    assert listener.failure is None, listener.failure
                    time.sleep(0.2)
                publisher.publish(events.result(output_values={"after": "restart"}), response, wait=True)
                after, attributes, _, _ = next_event(waiting)
        finally:
            publisher.close()
        assert after == {"kind": "result", "output_values": {"after": "restart"}}
        assert attributes["question_uuid"] == question["question_uuid"]
        assert waiting.empty()  # nothing twice, and no ListenerFailed
        assert listener.recoveries == 1 and listener.failure is None
        recreating = [record for record in caplog.records if "recreating the subscription" in record.getMessage()]
        assert len(recreating) == 1
    finally:
        session.close()
