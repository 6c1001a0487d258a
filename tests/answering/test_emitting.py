"""A question's emitter and the heartbeat clock, on an in-memory publisher."""

import time

from octue_beam.answering.emitting import QuestionEmitter
from octue_beam.answering.heartbeats import Heartbeats
from octue_beam.messaging import events
from octue_beam.messaging.publishing import MemoryPublisher

ATTRIBUTES = {"question_uuid": "q-1", "sender": "a/child:local", "recipient": "a/parent:local", "sender_type": "CHILD"}


def emitter_for(publisher, question_uuid="q-1"):
    return QuestionEmitter(publisher, {**ATTRIBUTES, "question_uuid": question_uuid})


def kinds(publisher, question_uuid="q-1"):
    return [event["kind"] for event, attributes in publisher.events() if attributes["question_uuid"] == question_uuid]


def test_nothing_is_sent_after_the_final_event():
    publisher = MemoryPublisher()
    emitter = emitter_for(publisher)
    assert emitter.send(events.heartbeat()) is True
    emitter.finish(events.result(output_values={"a": 1})).result()
    assert emitter.finished
    assert emitter.send(events.heartbeat()) is False
    assert kinds(publisher) == ["heartbeat", "result"]


def test_a_failing_non_final_event_is_reported_not_raised():
    emitter = emitter_for(MemoryPublisher(fail_with=RuntimeError("sink down")))

    class Refusing(MemoryPublisher):
        def publish(self, event, attributes, wait=False):
            raise RuntimeError("refused")

    assert emitter_for(Refusing()).send(events.heartbeat()) is False
    assert emitter.finish(events.result()).exception() is not None  # the final event's failure is the caller's


def test_every_event_carries_the_question_attributes_and_a_fresh_uuid():
    publisher = MemoryPublisher()
    emitter = emitter_for(publisher)
    emitter.send(events.heartbeat())
    emitter.send(events.heartbeat())
    (_, first), (_, second) = publisher.events()
    for attributes in (first, second):
        assert {key: attributes[key] for key in ATTRIBUTES} == ATTRIBUTES
    assert first["uuid"] != second["uuid"]


def test_heartbeats_start_at_once_repeat_and_stop():
    publisher = MemoryPublisher()
    heartbeats = Heartbeats()
    try:
        running, stopped = emitter_for(publisher, "running"), emitter_for(publisher, "stopped")
        heartbeats.start(running, 0.05)
        heartbeats.start(stopped, 0.05)
        assert kinds(publisher, "running") == ["heartbeat"]  # the first one at once
        heartbeats.stop("stopped")
        time.sleep(0.4)
        assert len(kinds(publisher, "running")) >= 4
        assert kinds(publisher, "stopped") == ["heartbeat"]
    finally:
        heartbeats.close()
    count = len(kinds(publisher, "running"))
    time.sleep(0.2)
    assert len(kinds(publisher, "running")) == count  # closing stops every question's heartbeats


def test_a_zero_interval_sends_one_heartbeat_and_no_clock_thread():
    publisher = MemoryPublisher()
    heartbeats = Heartbeats()
    heartbeats.start(emitter_for(publisher), 0)
    assert kinds(publisher) == ["heartbeat"]
    assert heartbeats._thread is None
    heartbeats.close()


def test_no_heartbeat_follows_the_answer():
    publisher = MemoryPublisher()
    heartbeats = Heartbeats()
    try:
        emitter = emitter_for(publisher)
        heartbeats.start(emitter, 0.02)
        time.sleep(0.1)
        emitter.finish(events.result()).result()
        time.sleep(0.1)  # the clock may still fire for this question before `stop`: the emitter refuses it
        heartbeats.stop("q-1")
    finally:
        heartbeats.close()
    assert kinds(publisher)[-1] == "result"
