"""The answering core driven directly, with an in-memory publisher: no emulator, no Beam, no subprocess."""

import logging
import threading
import time

import pytest

from octue_beam.answering import Answerer, QuestionRunner, Rejection, check_message
from octue_beam.answering.values import DEAD_LETTER_REASON_ATTRIBUTE, DeadLetter, Question
from octue_beam.messaging.publishing import MemoryPublisher
from tests.support.paths import FIXTURES
from tests.support.wire import octue_question

SRUID = "octue-beam-tests/behaviours:local"
PARENT = "octue-beam-tests/core-parent:local"
MAX_BYTES = 10_000_000


def question(values, **options) -> Question:
    data, attributes = octue_question(SRUID, PARENT, values, **options)
    checked = check_message(data, attributes, SRUID, MAX_BYTES)
    assert isinstance(checked, Question), checked
    return checked


@pytest.fixture(scope="module")
def loaded():
    """One Answerer per module (the service is loaded once, like a worker does); each test reads its own events."""
    publisher = MemoryPublisher()
    answerer = Answerer.load(str(FIXTURES / "behaviours"), publisher, sruid=SRUID, heartbeat_interval=0)
    yield answerer, publisher
    answerer.close()


def events_of(publisher: MemoryPublisher, question_uuid: str) -> list[dict]:
    return [event for event, attributes in publisher.events() if attributes["question_uuid"] == question_uuid]


def test_a_question_gets_acknowledgement_and_one_result_in_order(loaded):
    """(No heartbeat here: the first comes one heartbeat interval after the acknowledgement, and this answerer's
    interval is 0, none.)"""
    answerer, publisher = loaded
    asked = question({"action": "echo", "value": 3})
    answer = answerer.answer(asked).wait()

    assert answer.kind == "result"
    assert answer.event["output_values"] == {"action": "echo", "value": 3}
    kinds = [event["kind"] for event in events_of(publisher, asked.question_uuid)]
    assert kinds == ["delivery_acknowledgement", "result"]
    sent = [attributes for _, attributes in publisher.events() if attributes["question_uuid"] == asked.question_uuid]
    assert {attributes["recipient"] for attributes in sent} == {PARENT}
    assert {attributes["sender"] for attributes in sent} == {SRUID}
    assert {attributes["sender_type"] for attributes in sent} == {"CHILD"}


def test_an_app_crash_is_one_exception_naming_the_error(loaded):
    answerer, publisher = loaded
    asked = question({"action": "crash", "value": 7})
    answer = answerer.answer(asked).wait()

    assert answer.kind == "exception"
    assert answer.event["exception_type"] == "ValueError"
    assert "crashed on purpose (value=7)" in answer.event["exception_message"]
    finals = [event for event in events_of(publisher, asked.question_uuid) if event["kind"] in ("result", "exception")]
    assert len(finals) == 1


def test_invalid_outputs_are_an_exception(loaded):
    answerer, _ = loaded
    answer = answerer.answer(question({"action": "invalid-output"})).wait()
    assert answer.kind == "exception"
    assert answer.event["exception_type"] == "InvalidValuesContents"


def test_a_duplicate_delivery_sends_nothing_and_a_retry_is_answered(loaded):
    answerer, publisher = loaded
    asked = question({"action": "echo", "value": 1})
    assert answerer.answer(asked).wait().kind == "result"
    before = len(events_of(publisher, asked.question_uuid))

    assert answerer.answer(asked) is None
    assert len(events_of(publisher, asked.question_uuid)) == before

    retry = question({"action": "echo", "value": 1}, question_uuid=asked.question_uuid, retry_count=1)
    assert answerer.answer(retry).wait().kind == "result"
    assert len(events_of(publisher, asked.question_uuid)) == before + 2  # its acknowledgement and result


def test_logs_are_forwarded_only_when_the_question_asks_for_them(loaded):
    answerer, publisher = loaded
    logging.getLogger().setLevel(logging.INFO)
    forwarded = question({"action": "log"}, forward_logs=True)
    silent = question({"action": "log"}, forward_logs=False)
    answerer.answer(forwarded).wait()
    answerer.answer(silent).wait()

    messages = [
        event["log_record"]["msg"]
        for event in events_of(publisher, forwarded.question_uuid)
        if event["kind"] == "log_record"
    ]
    assert [f"Log line {n} of question {forwarded.question_uuid}." for n in range(3)] == [
        message for message in messages if message.startswith("Log line")
    ]
    assert not [event for event in events_of(publisher, silent.question_uuid) if event["kind"] == "log_record"]


def test_monitor_messages_reach_the_parent_before_the_result(loaded):
    answerer, publisher = loaded
    asked = question({"action": "monitor"})
    answerer.answer(asked).wait()
    sent = events_of(publisher, asked.question_uuid)
    monitor = [event["data"] for event in sent if event["kind"] == "monitor_message"]
    assert monitor == [{"progress": 0.25}, {"progress": 0.5}, {"progress": 1.0}]
    assert sent[-1]["kind"] == "result"


def test_heartbeats_repeat_while_a_question_runs_and_stop_with_its_answer():
    publisher = MemoryPublisher()
    answerer = Answerer.load(str(FIXTURES / "behaviours"), publisher, sruid=SRUID, heartbeat_interval=0.1)
    try:
        asked = question({"action": "sleep", "seconds": 0.55})
        answerer.answer(asked).wait()
        kinds = [event["kind"] for event in events_of(publisher, asked.question_uuid)]
        time.sleep(0.3)
        assert [event["kind"] for event in events_of(publisher, asked.question_uuid)] == kinds  # nothing after the end
    finally:
        answerer.close()
    assert kinds[0] == "delivery_acknowledgement" and kinds[-1] == "result"
    assert kinds.count("heartbeat") >= 3


def test_a_service_that_cannot_load_answers_every_question_with_the_error(tmp_path):
    (tmp_path / "octue.yaml").write_text("services:\n  - namespace: octue-beam-tests\n    name: broken\n")
    (tmp_path / "twine.json").write_text("{}")
    (tmp_path / "app.py").write_text("raise RuntimeError('missing dependency here')\n")
    publisher = MemoryPublisher()
    answerer = Answerer.load(str(tmp_path), publisher, sruid="octue-beam-tests/broken:local", heartbeat_interval=0)
    data, attributes = octue_question("octue-beam-tests/broken:local", PARENT, None)
    answer = answerer.answer(check_message(data, attributes, "octue-beam-tests/broken:local", MAX_BYTES)).wait()
    assert answer.kind == "exception"
    assert "missing dependency here" in answer.event["exception_message"]


def test_a_service_loaded_under_another_sruid_refuses_every_question():
    publisher = MemoryPublisher()
    other = "octue-beam-tests/other:local"
    answerer = Answerer.load(str(FIXTURES / "behaviours"), publisher, sruid=other, heartbeat_interval=0)
    data, attributes = octue_question(other, PARENT, {"action": "echo"})
    answer = answerer.answer(check_message(data, attributes, other, MAX_BYTES)).wait()
    assert answer.kind == "exception"
    assert SRUID in answer.event["exception_message"] and other in answer.event["exception_message"]


def test_a_final_event_the_sink_refuses_becomes_an_exception_saying_so():
    class RefusingResults(MemoryPublisher):
        def publish(self, event, attributes, wait=False):
            if event.get("kind") == "result":
                raise ValueError("too big for the sink")
            return super().publish(event, attributes, wait)

    publisher = RefusingResults()
    answerer = Answerer.load(str(FIXTURES / "behaviours"), publisher, sruid=SRUID, heartbeat_interval=0)
    asked = question({"action": "echo"})
    answer = answerer.answer(asked).wait()
    assert answer.kind == "exception"
    assert "could not be sent" in answer.event["exception_message"]
    assert "too big for the sink" in answer.event["exception_message"]
    assert [event["kind"] for event in events_of(publisher, asked.question_uuid)][-1] == "exception"


def test_a_rejection_is_answered_when_the_sender_is_known_and_kept_as_a_dead_letter(loaded):
    answerer, publisher = loaded
    _, attributes = octue_question(SRUID, PARENT, {"action": "echo"})
    rejection = check_message(b"not json", attributes, SRUID, MAX_BYTES)
    assert isinstance(rejection, Rejection) and "not valid JSON" in rejection.reason

    assert answerer.reject(rejection) is True
    (event,) = events_of(publisher, attributes["question_uuid"])
    assert event["kind"] == "exception" and event["exception_type"] == "InvalidEvent"

    letter = DeadLetter.from_rejection(rejection)
    assert letter.data == b"not json"
    assert letter.attributes[DEAD_LETTER_REASON_ATTRIBUTE] == rejection.reason


def test_a_rejection_without_a_sender_is_not_answered(loaded):
    answerer, publisher = loaded
    before = len(publisher.messages)
    assert answerer.reject(Rejection(b"x", {"recipient": SRUID}, "broken")) is False
    assert len(publisher.messages) == before


def test_messages_for_others_and_answers_from_children_are_not_questions():
    data, attributes = octue_question("octue-beam-tests/someone-else:local", PARENT, {"action": "echo"})
    assert check_message(data, attributes, SRUID, MAX_BYTES) is None
    data, attributes = octue_question(SRUID, PARENT, {"action": "echo"})
    assert check_message(data, {**attributes, "sender_type": "CHILD"}, SRUID, MAX_BYTES) is None
    too_big = check_message(b"{" + b" " * 100 + b"}", attributes, SRUID, 50)
    assert isinstance(too_big, Rejection)


def test_the_runner_answers_questions_concurrently(monkeypatch):
    """Five questions on five slots run together: every app has started before any has ended."""
    publisher = MemoryPublisher()
    answerer = Answerer.load(str(FIXTURES / "behaviours"), publisher, sruid=SRUID, heartbeat_interval=0)
    runner = QuestionRunner(answerer, max_concurrent_questions=5)
    moments = []
    run = answerer._run

    def recording(asked, emitter):
        moments.append(("start", asked.question_uuid))
        try:
            return run(asked, emitter)
        finally:
            moments.append(("end", asked.question_uuid))

    monkeypatch.setattr(answerer, "_run", recording)
    threads_before = threading.active_count()  # other tests' threads may still run in this process
    try:
        futures = [runner.submit(question({"action": "sleep", "seconds": 0.5})) for _ in range(5)]
        answers = [future.result().wait() for future in futures]
    finally:
        runner.close(wait=True)
        answerer.close()
    assert [answer.kind for answer in answers] == ["result"] * 5
    assert [kind for kind, _ in moments] == ["start"] * 5 + ["end"] * 5, "the questions did not run together"
    deadline = time.monotonic() + 10
    while threading.active_count() > threads_before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() <= threads_before, "the runner left threads behind"
