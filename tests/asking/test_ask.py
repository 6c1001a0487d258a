import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
import uuid

import pytest

import octue_beam
from octue_beam import exceptions
from octue_beam.asking import ask, default_parent_sruid
from octue_beam.asking.session import AskingSession, default_session, use_session
from octue_beam.messaging import events, pubsub
from octue_beam.messaging.publishing import OrderedBatchPublisher
from tests.asking.responder import Responder
from tests.support.subscriptions import subscribed_but_not_reading

PROJECT = "octue-beam-test"


@pytest.fixture(autouse=True)
def emulator(pubsub_emulator):
    return pubsub_emulator


def full_answer(event, attributes, send):
    send(events.delivery_acknowledgement())
    send(events.heartbeat())
    record = logging.LogRecord("child.app", logging.WARNING, "app.py", 7, "Working on %s", ("it",), None)
    send(events.log_record(record))
    send(events.monitor_message({"progress": 0.5}))
    send(events.result(
        output_values={"doubled": event["input_values"]["n"] * 2, "labels": {"a", "b"}},
        output_manifest={"id": str(uuid.uuid4()), "name": None, "datasets": {"out": {
            "id": str(uuid.uuid4()), "name": "out", "tags": {}, "labels": [], "path": None, "files": []}}},
    ))


def test_answer_is_returned_and_events_recorded_in_order(caplog):
    monitor_messages = []
    recorded = []
    with Responder(PROJECT, full_answer) as child, caplog.at_level(logging.INFO):
        answer, question_uuid = ask(
            child.sruid, {"n": 21}, handle_monitor_message=monitor_messages.append, record_events=recorded, timeout=60
        )
    assert answer["output_values"] == {"doubled": 42, "labels": {"a", "b"}}
    manifest = answer["output_manifest"]
    datasets = manifest["datasets"] if isinstance(manifest, dict) else manifest.to_primitive()["datasets"]
    assert "out" in datasets
    assert [e["event"]["kind"] for e in recorded] == [
        "delivery_acknowledgement", "heartbeat", "log_record", "monitor_message", "result"
    ]
    assert all(e["attributes"]["question_uuid"] == question_uuid for e in recorded)
    assert all(e["attributes"]["sender"] == child.sruid for e in recorded)
    assert monitor_messages == [{"progress": 0.5}]
    [(question, attributes)] = child.questions
    assert question == {"kind": "question", "input_values": {"n": 21}}
    assert attributes["question_uuid"] == question_uuid
    assert attributes["sender"] == default_parent_sruid() and attributes["forward_logs"] is True
    forwarded = [r for r in caplog.records if r.name == "child.app"]
    assert [r.getMessage() for r in forwarded] == [f"[{child.sruid} | {question_uuid}] Working on it"]
    assert forwarded[0].levelno == logging.WARNING


def test_ask_is_exported_from_the_package():
    assert octue_beam.ask is ask


@pytest.mark.parametrize(
    "type_name, expected_type",
    [("ValueError", ValueError), ("InvalidValuesContents", exceptions.InvalidValuesContents), ("MyAppError", None)],
)
def test_remote_exception_is_reraised_with_type_message_and_traceback(type_name, expected_type):
    def fail(event, attributes, send):
        send(events.delivery_acknowledgement())
        send({"kind": "exception", "exception_type": type_name, "exception_message": "width must be positive",
              "exception_traceback": ['  File "app.py", line 3, in run\n    raise Oops()\n']})

    with Responder(PROJECT, fail) as child:
        with pytest.raises(Exception) as raised:
            ask(child.sruid, {"n": 1}, timeout=60)
    error = raised.value
    if expected_type is None:
        assert isinstance(error, exceptions.RemoteException) and type(error).__name__ == "MyAppError"
    else:
        assert type(error) is expected_type
    assert "width must be positive" in str(error)
    assert 'File "app.py", line 3, in run' in str(error)
    assert error.remote_message == "width must be positive"


def test_timeout_when_nobody_answers():
    service = f"test-org/nobody-{uuid.uuid4().hex[:8]}:1.0.0"
    timed_out = "No answer to question .* within the timeout of 1 s"
    with subscribed_but_not_reading(service), pytest.raises(exceptions.QuestionTimeout, match=timed_out) as raised:
        ask(service, {"n": 1}, timeout=1)
    assert isinstance(raised.value, TimeoutError)


def test_timeout_when_the_child_goes_silent_after_acknowledging():
    def acknowledge_only(event, attributes, send):
        send(events.delivery_acknowledgement())

    with Responder(PROJECT, acknowledge_only) as child:
        recorded = []
        with pytest.raises(exceptions.QuestionTimeout, match=r"sent nothing .* since its last event \(delivery_ack"):
            ask(child.sruid, {"n": 1}, timeout=60, maximum_heartbeat_interval=2, record_events=recorded)
    assert [e["event"]["kind"] for e in recorded] == ["delivery_acknowledgement"]


def test_events_for_other_questions_or_recipients_and_invalid_events_are_ignored():
    def confuse_then_answer(event, attributes, send):
        send(events.result(output_values="other question"), question_uuid=str(uuid.uuid4()))
        send(events.result(output_values="other parent"), recipient="test-org/someone-else:1.0.0")
        send(events.result(output_values="from a parent"), sender_type="PARENT")
        raw = OrderedBatchPublisher(PROJECT)
        wire = {"question_uuid": attributes["question_uuid"], "recipient": attributes["sender"], "sender_type": "CHILD"}
        raw.publish_raw(b"not json", wire, ordering_key=attributes["question_uuid"], wait=True)
        raw.close()
        send(events.result(output_values="the answer"))

    recorded = []
    with Responder(PROJECT, confuse_then_answer) as child:
        answer, _ = ask(child.sruid, {"n": 1}, timeout=60, record_events=recorded)
    assert answer["output_values"] == "the answer"
    assert [e["event"]["kind"] for e in recorded] == ["result"]


def test_several_questions_in_flight_share_one_subscription():
    def slow_double(event, attributes, send):
        n = event["input_values"]["n"]
        send(events.delivery_acknowledgement())
        time.sleep(0.1 * (5 - n))  # answer in reverse order of asking
        send(events.result(output_values=n * 2))

    results = {}
    errors = []

    def ask_one(n, service):
        try:
            results[n] = ask(service, {"n": n}, timeout=60)[0]["output_values"]
        except Exception as error:  # noqa: BLE001
            errors.append(error)

    with Responder(PROJECT, slow_double) as child:
        listener = default_session().listener(PROJECT, default_parent_sruid())
        threads = [threading.Thread(target=ask_one, args=(n, child.sruid)) for n in range(5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=90)
    assert not errors
    assert results == {n: n * 2 for n in range(5)}
    assert default_session().listener(PROJECT, default_parent_sruid()) is listener
    assert pubsub.subscription_exists(PROJECT, listener.subscription_name)


def test_closing_the_listeners_of_an_emulator_deletes_their_subscriptions(pubsub_emulator):
    session = AskingSession()
    previous = use_session(session)
    try:
        listener = default_session().listener(PROJECT, default_parent_sruid())
        assert pubsub.subscription_exists(PROJECT, listener.subscription_name)
        session.close_listeners("localhost:1")  # another emulator's: this one stays
        assert session.listener(PROJECT, default_parent_sruid()) is listener
        session.close_listeners(pubsub_emulator.host_port)
        assert not pubsub.subscription_exists(PROJECT, listener.subscription_name)
        assert session.listener(PROJECT, default_parent_sruid()) is not listener
    finally:
        use_session(previous)
        session.close()


def test_asynchronous_question_returns_at_once():
    received = threading.Event()

    def note(event, attributes, send):
        received.set()

    with Responder(PROJECT, note) as child:
        answer, question_uuid = ask(child.sruid, {"n": 1}, asynchronous=True, question_uuid=str(uuid.uuid4()))
        assert answer is None
        assert received.wait(30)
    assert child.questions[0][1]["question_uuid"] == question_uuid


def test_local_input_manifest_is_refused_unless_allowed(tmp_path):
    manifest = {"id": str(uuid.uuid4()), "name": None, "datasets": {"data": str(tmp_path)}}
    with pytest.raises(exceptions.FileLocationError, match="allow_local_files=True"):
        ask("test-org/anyone:1.0.0", input_manifest=manifest, timeout=1)
    _, question_uuid = ask(
        "test-org/anyone:1.0.0", input_manifest=manifest, allow_local_files=True, asynchronous=True
    )
    assert question_uuid


def test_service_id_without_revision_tag_is_refused():
    with pytest.raises(exceptions.InvalidServiceID, match="no revision tag"):
        ask("test-org/anyone", {"n": 1})


def test_invalid_question_is_not_sent():
    with pytest.raises(exceptions.InvalidEvent, match="question_uuid"):
        ask("test-org/anyone:1.0.0", {"n": 1}, question_uuid="not-a-uuid", asynchronous=True)


def test_answer_subscription_is_deleted_when_the_asking_process_exits(pubsub_emulator, tmp_path):
    script = textwrap.dedent(
        """
        import sys
        from octue_beam import ask
        from octue_beam.asking import default_parent_sruid
        from octue_beam.asking.session import AskingSession, default_session, use_session
        from octue_beam.exceptions import QuestionTimeout

        listener = default_session().listener("octue-beam-test", default_parent_sruid())
        print(listener.subscription_name, flush=True)
        try:
            ask("test-org/nobody-home:1.0.0", {"n": 1}, timeout=1, project="octue-beam-test")
        except QuestionTimeout:
            pass
        if sys.argv[1] == "error":
            raise RuntimeError("the asking script crashed")
        """
    )
    for mode in ("normal", "error"):
        result = subprocess.run(
            [sys.executable, "-c", script, mode], capture_output=True, text=True, timeout=120,
            env={**os.environ, "PUBSUB_EMULATOR_HOST": pubsub_emulator.host_port},
        )
        subscription = result.stdout.strip().splitlines()[0]
        assert ".answers." in subscription
        assert not pubsub.subscription_exists(PROJECT, subscription), result.stderr


def test_events_of_an_earlier_attempt_are_ignored_by_a_retry():
    def late_answer_of_attempt_0_then_answer(event, attributes, send):
        send(events.result(output_values="from attempt 0"), retry_count=0)
        send(events.result(output_values=f"from attempt {attributes['retry_count']}"))

    with Responder(PROJECT, late_answer_of_attempt_0_then_answer) as child:
        answer, _ = ask(child.sruid, {"n": 1}, timeout=60, retry_count=1, question_uuid=str(uuid.uuid4()))
    assert answer["output_values"] == "from attempt 1"


def test_oversize_question_is_refused_before_sending():
    with pytest.raises(exceptions.InvalidEvent, match="limit of 10000000 bytes"):
        ask("test-org/anyone:1.0.0", {"blob": "x" * 10_000_001}, asynchronous=True)


def test_local_manifest_object_is_refused(tmp_path):
    from octue_beam.resources import Dataset, Manifest

    (tmp_path / "a.txt").write_text("data")
    manifest = Manifest(datasets={"data": Dataset(path=str(tmp_path))})
    with pytest.raises(exceptions.FileLocationError, match=str(tmp_path)):
        ask("test-org/anyone:1.0.0", input_manifest=manifest, asynchronous=True)
