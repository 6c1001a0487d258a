"""Unit tests of the answer `Waiter`, fed events on a queue by hand (no Pub/Sub, no listener)."""

import queue
import time
import uuid

import pytest

from octue_beam import serialisation
from octue_beam.asking.answers import ListenerFailed
from octue_beam.asking.questions import Question, RetryPolicy
from octue_beam.asking.waiting import PublishFailed, Waiter
from octue_beam.exceptions import QuestionTimeout
from octue_beam.messaging import events
from octue_beam.messaging.attributes import question_attributes, refreshed, response_attributes

PARENT = "local/local-test:local"
CHILD = "my-org/child:1.0.0"


def make_question(**settings) -> Question:
    policy = settings.pop("policy", RetryPolicy())
    attributes = question_attributes(
        sender=PARENT, recipient=CHILD, sender_sdk_version="0.1.0", question_uuid=str(uuid.uuid4())
    )
    question = Question(
        service_id=CHILD,
        project="proj",
        topic_name=None,
        parent_sruid=PARENT,
        event=events.question(input_values={"n": 1}),
        attributes=attributes,
        policy=policy,
        **settings,
    )
    question.started()
    return question


def send(events_queue: queue.Queue, question: Question, event: dict, **overrides) -> tuple:
    """Put an event of the child's on the queue as the answer listener does; return the item put."""
    attributes = refreshed({**response_attributes(question.attributes, "0.1.0"), **overrides})
    data = serialisation.dumps(event).encode()
    item = (serialisation.loads(data, decode_types=False), attributes, data, time.monotonic())
    events_queue.put(item)
    return item


def never_resend(question: Question, failures: queue.Queue) -> None:
    raise AssertionError("no retry was expected")


def test_a_result_finishes_the_question_with_its_answer():
    events_queue: queue.Queue = queue.Queue()
    question = make_question()
    waiter = Waiter(events_queue, never_resend)
    waiter.add(question)
    send(events_queue, question, events.delivery_acknowledgement())
    send(events_queue, question, events.heartbeat())
    send(events_queue, question, events.result(output_values={"labels": {"a"}}))

    assert waiter.wait() == [question]
    assert not waiter.pending
    answer, question_uuid = question.outcome()
    assert answer == {"output_values": {"labels": {"a"}}, "output_manifest": None}
    assert question_uuid == question.question_uuid
    assert [e["event"]["kind"] for e in question.received_events] == ["delivery_acknowledgement", "heartbeat", "result"]


def test_an_exception_event_fails_the_question_with_the_remote_error():
    events_queue: queue.Queue = queue.Queue()
    question = make_question()
    waiter = Waiter(events_queue, never_resend)
    waiter.add(question)
    send(events_queue, question, {"kind": "exception", "exception_type": "ValueError", "exception_message": "bad n",
                                  "exception_traceback": []})

    assert waiter.wait() == [question]
    with pytest.raises(ValueError, match="bad n"):
        question.outcome()


def test_errors_are_returned_instead_of_raised_when_asked_so():
    events_queue: queue.Queue = queue.Queue()
    question = make_question(policy=RetryPolicy(raise_errors=False, log_errors=False))
    waiter = Waiter(events_queue, never_resend)
    waiter.add(question)
    send(events_queue, question, {"kind": "exception", "exception_type": "KeyError", "exception_message": "k"})
    waiter.wait()
    error, _ = question.outcome()
    assert isinstance(error, KeyError)


def test_silence_after_the_acknowledgement_fails_the_question_after_the_heartbeat_interval():
    events_queue: queue.Queue = queue.Queue()
    question = make_question(maximum_heartbeat_interval=0.2, delivery_acknowledgement_timeout=60)
    waiter = Waiter(events_queue, never_resend)
    waiter.add(question)
    send(events_queue, question, events.delivery_acknowledgement())
    started = time.monotonic()

    waiter.wait()
    assert 0.15 < time.monotonic() - started < 5
    with pytest.raises(QuestionTimeout, match=r"sent nothing .* since its last event \(delivery_acknowledgement\)"):
        question.outcome()


def test_any_event_keeps_the_question_alive():
    events_queue: queue.Queue = queue.Queue()
    question = make_question(maximum_heartbeat_interval=0.3)
    waiter = Waiter(events_queue, never_resend)
    waiter.add(question)
    send(events_queue, question, events.delivery_acknowledgement())
    for _ in range(4):
        time.sleep(0.15)
        send(events_queue, question, events.monitor_message({"progress": 0.5}))
        assert waiter.wait(until=time.monotonic()) == []
    send(events_queue, question, events.result(output_values=1))
    assert waiter.wait() == [question]
    assert question.outcome()[0]["output_values"] == 1


def test_no_acknowledgement_fails_the_question_after_the_delivery_acknowledgement_timeout():
    events_queue: queue.Queue = queue.Queue()
    question = make_question(delivery_acknowledgement_timeout=0.2, maximum_heartbeat_interval=0.01)
    waiter = Waiter(events_queue, never_resend)
    waiter.add(question)

    waiter.wait()
    with pytest.raises(QuestionTimeout, match="did not acknowledge .* within 0.2 s"):
        question.outcome()


def test_a_failed_attempt_is_retried_and_late_events_of_the_earlier_attempt_are_ignored():
    events_queue: queue.Queue = queue.Queue()
    question = make_question(policy=RetryPolicy(max_retries=2))
    resent = []

    def resend(retried: Question, failures: queue.Queue) -> None:
        assert failures is events_queue
        resent.append(retried.retry_count)
        retried.started()
        send(events_queue, retried, events.result(output_values="from attempt 0"), retry_count=0)
        send(events_queue, retried, events.result(output_values=f"from attempt {retried.retry_count}"))

    waiter = Waiter(events_queue, resend)
    waiter.add(question)
    send(events_queue, question, {"kind": "exception", "exception_type": "RuntimeError", "exception_message": "flaky"})

    assert waiter.wait() == [question]
    assert resent == [1]
    assert question.outcome()[0]["output_values"] == "from attempt 1"
    assert question.attributes["retry_count"] == 1


def test_retries_stop_at_max_retries_and_for_errors_that_prevent_them():
    events_queue: queue.Queue = queue.Queue()
    resent = []

    def resend(retried: Question, failures: queue.Queue) -> None:
        resent.append(retried.question_uuid)
        retried.started()
        send(events_queue, retried, {"kind": "exception", "exception_type": "RuntimeError", "exception_message": "x"})

    retried = make_question(policy=RetryPolicy(max_retries=2))
    prevented = make_question(policy=RetryPolicy(max_retries=2, prevent_retries_when=(ValueError,)))
    waiter = Waiter(events_queue, resend)
    waiter.add_all([retried, prevented])
    send(events_queue, retried, {"kind": "exception", "exception_type": "RuntimeError", "exception_message": "x"})
    send(events_queue, prevented, {"kind": "exception", "exception_type": "ValueError", "exception_message": "y"})

    assert {question.question_uuid for question in waiter.wait()} == {retried.question_uuid, prevented.question_uuid}
    assert resent == [retried.question_uuid] * 2
    with pytest.raises(RuntimeError):
        retried.outcome()
    with pytest.raises(ValueError):
        prevented.outcome()


def test_a_publishing_failure_of_the_current_attempt_fails_it():
    events_queue: queue.Queue = queue.Queue()
    question = make_question()
    waiter = Waiter(events_queue, never_resend)
    waiter.add(question)
    events_queue.put(PublishFailed(question.question_uuid, retry_count=5, error=RuntimeError("an old attempt")))
    assert waiter.wait(until=time.monotonic() + 0.1) == []
    events_queue.put(PublishFailed(question.question_uuid, retry_count=0, error=ConnectionError("no network")))
    assert waiter.wait() == [question]
    with pytest.raises(ConnectionError, match="no network"):
        question.outcome()


def test_a_stopped_listener_fails_every_pending_question():
    events_queue: queue.Queue = queue.Queue()
    questions = [make_question(), make_question()]
    waiter = Waiter(events_queue, never_resend)
    waiter.add_all(questions)
    events_queue.put(ListenerFailed(RuntimeError("stream closed")))
    assert waiter.wait() == questions
    for question in questions:
        with pytest.raises(ConnectionError, match="Stopped receiving answers") as raised:
            question.outcome()
        assert isinstance(raised.value.__cause__, RuntimeError)


def test_waiting_until_a_time_returns_with_the_question_still_pending():
    events_queue: queue.Queue = queue.Queue()
    question = make_question()
    waiter = Waiter(events_queue, never_resend)
    waiter.add(question)
    acknowledgement = send(events_queue, question, events.delivery_acknowledgement())
    events_queue.put(acknowledgement)  # delivered twice: handled once
    send(events_queue, question, events.heartbeat())
    assert waiter.wait(until=time.monotonic()) == []
    assert question.question_uuid in waiter.pending
    assert question.acknowledged_at is not None
    assert [e["event"]["kind"] for e in question.received_events] == ["delivery_acknowledgement", "heartbeat"]


def test_waiting_returns_as_soon_as_one_question_finishes_when_asked():
    events_queue: queue.Queue = queue.Queue()
    first, second = make_question(), make_question()
    waiter = Waiter(events_queue, never_resend)
    waiter.add_all([first, second])
    send(events_queue, first, events.result(output_values=1))
    assert waiter.wait(return_on_finish=True) == [first]
    assert list(waiter.pending) == [second.question_uuid]
    send(events_queue, second, events.result(output_values=2))
    assert waiter.wait(return_on_finish=True) == [second]
