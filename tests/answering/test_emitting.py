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


def test_heartbeats_start_one_interval_after_acceptance_repeat_and_stop():
    """The first heartbeat comes one interval after the question was accepted (its acknowledgement said it arrived),
    as Octue's does; then one every interval until the question stops."""
    publisher = MemoryPublisher()
    heartbeats = Heartbeats()
    try:
        running, stopped, late = (emitter_for(publisher, name) for name in ("running", "stopped", "late"))
        heartbeats.start(running, 0.05)
        heartbeats.start(stopped, 0.05)
        heartbeats.start(late, 30)
        assert publisher.events() == []  # none at once
        time.sleep(0.4)
        heartbeats.stop("stopped")
        time.sleep(0.4)
        assert len(kinds(publisher, "running")) >= 8
        assert 4 <= len(kinds(publisher, "stopped")) <= 9
        assert kinds(publisher, "late") == []
    finally:
        heartbeats.close()
    count = len(kinds(publisher, "running"))
    time.sleep(0.2)
    assert len(kinds(publisher, "running")) == count  # closing stops every question's heartbeats


def test_a_zero_interval_sends_no_heartbeat_and_starts_no_clock_thread():
    publisher = MemoryPublisher()
    heartbeats = Heartbeats()
    heartbeats.start(emitter_for(publisher), 0)
    time.sleep(0.1)
    assert kinds(publisher) == []
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
