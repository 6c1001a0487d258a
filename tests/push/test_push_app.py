"""The push transport's WSGI app called directly, with an in-memory publisher: no emulator, no HTTP server.

The service here waits for a "gate" file named in its input values, so each test decides when a question ends
(no timings): it can deliver a question again while the first delivery is still running.
"""

import json
import logging
import threading
import time
import uuid

import pytest
from google.api_core import exceptions as api_exceptions

from octue_beam.messaging.publishing import MemoryPublisher
from octue_beam.push.handling import PushHandler
from octue_beam.push.wsgi import PushApp
from tests.push.support import GATE_APP, GATE_TWINE, call, envelope
from tests.support.service_dirs import write_service
from tests.support.wire import octue_question

SRUID = "test-org/test-service:local"
PARENT = "test-org/push-parent:local"


@pytest.fixture
def served(tmp_path, monkeypatch):
    """`(app, publisher, gates folder)`: a fresh handler (its own seen set) for each test, closed afterwards."""
    monkeypatch.delenv("OCTUE_SERVICE_REVISION_TAG", raising=False)
    service_dir = write_service(tmp_path / "service", app=GATE_APP, twine=GATE_TWINE)
    publisher = MemoryPublisher()
    handler = PushHandler.load(str(service_dir), SRUID, publisher, max_concurrent_questions=4)
    gates = tmp_path / "gates"
    gates.mkdir()
    yield PushApp(handler), publisher, gates
    for gate in gates.iterdir():  # nothing may stay blocked
        gate.touch()
    handler.close()


def question_body(input_values, *, recipient=SRUID, question_uuid=None, message_id="1") -> tuple[str, bytes]:
    data, attributes = octue_question(recipient, PARENT, input_values, question_uuid=question_uuid)
    return attributes["question_uuid"], envelope(data, attributes, message_id)


def kinds_of(publisher: MemoryPublisher, question_uuid: str) -> list[str]:
    return [event["kind"] for event, attributes in publisher.events() if attributes["question_uuid"] == question_uuid]


def wait_until(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


class Request(threading.Thread):
    """One push request in a thread of its own (as gunicorn's threads call the app); `result` when it returned."""

    def __init__(self, app, body: bytes) -> None:
        super().__init__(daemon=True)
        self.app, self.body, self.result = app, body, None

    def run(self) -> None:
        self.result = call(self.app, body=self.body)


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (b"question?", "not JSON"),
        (b"[1, 2]", "not an object"),
        (b'{"subscription": "projects/p/subscriptions/s"}', '"message"'),
        (b'{"message": {"data": "not base64!"}}', "base64"),
        (b'{"message": {"data": "", "attributes": {"retry_count": 0}}}', "retry_count"),
        (b'{"message": {"attributes": []}}', "attributes"),
    ],
    ids=["not-json", "not-an-object", "no-message", "bad-base64", "attribute-not-a-string", "attributes-not-an-object"],
)
def test_a_body_that_is_not_a_push_envelope_is_a_400_with_a_one_line_reason(served, body, named):
    app, publisher, _ = served
    status, text, headers = call(app, body=body)
    assert status == 400
    assert named in text
    assert text.endswith("\n") and "\n" not in text[:-1]
    assert headers["Content-Type"].startswith("text/plain")
    assert publisher.messages == []


def test_get_answers_the_sruid_for_startup_probes_and_other_methods_and_paths_are_refused(served):
    app, _, _ = served
    assert call(app, "GET", "/")[:2] == (200, f"{SRUID}\n")
    assert call(app, "GET", "/health")[:2] == (200, f"{SRUID}\n")
    assert call(app, "HEAD", "/health")[:2] == (200, "")
    status, _, headers = call(app, "PUT", "/", b"{}")
    assert status == 405 and "POST" in headers["Allow"]
    assert call(app, "POST", "/somewhere", b"{}")[0] == 404


def test_a_pushed_question_is_answered_before_its_request_returns(served):
    app, publisher, _ = served
    question_uuid, body = question_body({"value": 42})

    status, text, _ = call(app, body=body)

    assert status == 200
    assert text == f"Answered question {question_uuid} with a result.\n"
    assert kinds_of(publisher, question_uuid) == ["delivery_acknowledgement", "result"]
    result = [event for event, _ in publisher.events() if event["kind"] == "result"][0]
    assert result["output_values"] == {"echo": 42}


def test_a_question_for_another_service_is_acknowledged_without_an_answer(served):
    app, publisher, _ = served
    question_uuid, body = question_body({"value": 1}, recipient="test-org/another-service:local")

    status, text, _ = call(app, body=body)

    assert status == 200
    assert "test-org/another-service:local" in text and question_uuid in text
    assert publisher.messages == []


def test_an_input_not_matching_the_twine_is_answered_with_an_exception(served):
    app, publisher, _ = served
    question_uuid, body = question_body({"not-in-the-twine": 1})

    status, text, _ = call(app, body=body)

    assert status == 200
    assert text == f"Answered question {question_uuid} with an exception.\n"
    final = [event for event, _ in publisher.events() if event["kind"] == "exception"]
    assert len(final) == 1
    assert final[0]["exception_type"] == "InvalidValuesContents"


def test_a_broken_question_from_a_known_parent_gets_an_exception_and_is_acknowledged(served):
    app, publisher, _ = served
    _, attributes = octue_question(SRUID, PARENT, {"value": 1})

    status, text, _ = call(app, body=envelope(b"{not json", attributes))

    assert status == 200
    assert text.startswith("Rejected message 1 with an exception")
    [(event, sent)] = publisher.events()
    assert event["kind"] == "exception"
    assert sent["recipient"] == PARENT and sent["question_uuid"] == attributes["question_uuid"]


def test_a_broken_message_that_says_nobody_to_answer_is_acknowledged_and_only_logged(served, caplog):
    app, publisher, _ = served
    status, text, _ = call(app, body=envelope(b"{}", {"recipient": SRUID}, message_id="77"))
    assert status == 200
    assert "Rejected message 77, which says nobody to answer" in text
    assert publisher.messages == []
    assert any("does not say who asked (message 77)" in record.getMessage() for record in caplog.records)


def test_a_redelivery_while_the_question_runs_waits_for_its_answer_and_the_question_runs_once(served, caplog):
    caplog.set_level(logging.INFO, logger="octue_beam.push")
    app, publisher, gates = served
    gate = gates / "redelivered"
    question_uuid, body = question_body({"gate": str(gate), "value": "once"}, message_id="1")
    _, redelivered_body = question_body({"gate": str(gate), "value": "once"}, question_uuid=question_uuid)

    first = Request(app, body)
    first.start()
    wait_until(lambda: "delivery_acknowledgement" in kinds_of(publisher, question_uuid))
    again = Request(app, redelivered_body)
    again.start()
    wait_until(lambda: any("waits for the delivery already answering it" in r.getMessage() for r in caplog.records))
    assert again.is_alive(), "the redelivery returned before the question was answered"

    gate.touch()
    first.join(30)
    again.join(30)

    assert first.result[:2] == (200, f"Answered question {question_uuid} with a result.\n")
    assert again.result[0] == 200
    assert again.result[1].startswith(f"Answered question {question_uuid} with a result.")
    assert "waited for the first delivery" in again.result[1]
    assert kinds_of(publisher, question_uuid) == ["delivery_acknowledgement", "result"]


def test_a_redelivery_after_the_answer_is_acknowledged_without_a_second_run(served):
    app, publisher, _ = served
    question_uuid, body = question_body({"value": "once"})
    assert call(app, body=body)[0] == 200
    sent = len(publisher.messages)

    status, text, _ = call(app, body=body)

    assert status == 200
    assert text == f"Question {question_uuid} was already answered here.\n"
    assert len(publisher.messages) == sent


def test_a_retry_of_an_answered_question_is_a_new_question_and_is_answered(served):
    app, publisher, _ = served
    question_uuid, body = question_body({"value": 1})
    assert call(app, body=body)[0] == 200
    data, attributes = octue_question(SRUID, PARENT, {"value": 1}, question_uuid=question_uuid, retry_count=1)

    status, _, _ = call(app, body=envelope(data, attributes))

    assert status == 200
    assert kinds_of(publisher, question_uuid).count("result") == 2


def test_concurrent_requests_are_answered_concurrently(served):
    app, publisher, gates = served
    requests = {}
    for number in range(3):
        question_uuid, body = question_body({"gate": str(gates / f"concurrent-{number}"), "value": number})
        requests[question_uuid] = Request(app, body)
        requests[question_uuid].start()

    # Every question is acknowledged and running while none can end yet: they are answered at the same time.
    wait_until(lambda: all("delivery_acknowledgement" in kinds_of(publisher, each) for each in requests))
    assert all(request.is_alive() for request in requests.values())
    assert not [event for event, _ in publisher.events() if event["kind"] == "result"]

    for number in range(3):
        (gates / f"concurrent-{number}").touch()
    for question_uuid, request in requests.items():
        request.join(30)
        assert request.result[:2] == (200, f"Answered question {question_uuid} with a result.\n")


def test_a_stopping_instance_refuses_new_questions_with_503_so_pubsub_pushes_them_elsewhere(served):
    app, publisher, _ = served
    app.handler.stop_taking_questions()
    question_uuid, body = question_body({"value": 1})

    status, text, _ = call(app, body=body)

    assert status == 503
    assert question_uuid in text and "stopping" in text
    assert publisher.messages == []


def test_a_service_that_cannot_load_answers_every_question_with_its_error(tmp_path):
    service_dir = write_service(tmp_path / "broken", app="raise ImportError('no such module here')\n")
    publisher = MemoryPublisher()
    handler = PushHandler.load(str(service_dir), SRUID, publisher)
    try:
        app = PushApp(handler)
        assert "no such module here" in call(app, "GET", "/health")[1]
        question_uuid, body = question_body({"value": 1}, question_uuid=str(uuid.uuid4()))
        status, text, _ = call(app, body=body)
        assert status == 200
        assert text == f"Answered question {question_uuid} with an exception.\n"
        [final] = [event for event, _ in publisher.events() if event["kind"] == "exception"]
        assert "no such module here" in json.dumps(final)
    finally:
        handler.close()


def loaded_app(tmp_path, publisher: MemoryPublisher) -> PushApp:
    service_dir = write_service(tmp_path / "service", app=GATE_APP, twine=GATE_TWINE)
    return PushApp(PushHandler.load(str(service_dir), SRUID, publisher))


def test_an_answer_pubsub_did_not_take_is_a_503_and_its_redelivery_is_acknowledged_without_a_second_run(tmp_path):
    """The publisher failed for good (the topic is missing): Pub/Sub must push the question again, and this
    instance, which ran it once, acknowledges that redelivery."""
    app = loaded_app(tmp_path, MemoryPublisher(fail_with=api_exceptions.NotFound("Topic not found")))
    try:
        question_uuid, body = question_body({"value": 1})
        status, text, _ = call(app, body=body)
        assert status == 503
        assert text == (
            f"The result of question {question_uuid} may not have been sent (NotFound: 404 Topic not found).\n"
        )
        assert call(app, body=body)[:2] == (200, f"Question {question_uuid} was already answered here.\n")
    finally:
        app.handler.close()


def test_an_answer_too_big_for_pubsub_is_replaced_by_an_exception_saying_so_and_acknowledged(tmp_path):
    publisher = MemoryPublisher(max_message_bytes=3000)
    app = loaded_app(tmp_path, publisher)
    try:
        question_uuid, body = question_body({"value": "x" * 4000})
        assert call(app, body=body)[:2] == (200, f"Answered question {question_uuid} with an exception.\n")
        [final] = [event for event, _ in publisher.events() if event["kind"] in ("result", "exception")]
        assert final["exception_type"] == "MessageTooLarge"
        assert final["exception_message"].startswith("The answer could not be sent")
    finally:
        app.handler.close()
