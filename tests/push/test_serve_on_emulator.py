"""`python -m octue_beam serve` end to end on the real Pub/Sub emulator, which pushes the messages of a push
subscription to the server as Pub/Sub does (the Cloud Run path): questions are published on the services topic as
Octue 0.69 publishes them and their answers read from the topic by a listener, as a parent reads them.

The emulator ignores subscription filters, so every message on the topic is pushed to the server, answers
included: the server acknowledges them without answering, which is also how a question for another service is
treated.
"""

import datetime
import os
import threading
import uuid

import pytest

from octue_beam.messaging.pubsub import delete_subscription, ensure_subscription
from tests.push.support import ServeProcess, envelope, post
from tests.support.paths import FIXTURES
from tests.support.wire import octue_question, publish_question, wire_to

SRUID = "octue-beam-tests/behaviours:local"
PARENT = "octue-beam-tests/push-parent:local"
FINAL = ("result", "exception")


def push_subscription(project: str, topic_name: str, server: ServeProcess) -> str:
    """A push subscription of the topic to the server, as `deploy cloud-run` makes one (without ordering here: a
    question published twice must be pushed while its first copy is still being answered)."""
    name = f"test-push-{uuid.uuid4().hex[:10]}"
    ensure_subscription(
        project, name, topic_name, push_endpoint=server.url, enable_message_ordering=False, ack_deadline_seconds=60
    )
    return name


@pytest.fixture(scope="module")
def topic_name():
    return f"test.push.{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def server(pubsub_emulator, topic_name):
    process = ServeProcess(
        FIXTURES / "behaviours", "--heartbeat-interval", "1", "--max-concurrent-questions", "4", topic_name=topic_name
    )
    try:
        process.wait_until_ready()
        project = os.environ["GOOGLE_CLOUD_PROJECT"]
        subscription = push_subscription(project, topic_name, process)
        try:
            yield process
        finally:
            delete_subscription(project, subscription)
    finally:
        assert process.stop() == 0, process.output[-5000:]


@pytest.fixture(scope="module")
def wire(server, topic_name):
    with wire_to(os.environ["GOOGLE_CLOUD_PROJECT"], PARENT, topic_name) as listener_and_publisher:
        yield listener_and_publisher


def ask(wire, input_values, **options) -> str:
    return publish_question(wire[1], SRUID, PARENT, input_values, **options)


def kinds(received) -> list[str]:
    return [event["event"]["kind"] for event in received]


def sent_at(received, kind: str) -> datetime.datetime:
    """When the service sent its `kind` event (the `datetime` attribute it is published with)."""
    [event] = [event for event in received if event["event"]["kind"] == kind]
    return datetime.datetime.fromisoformat(event["attributes"]["datetime"])


def test_serve_says_what_it_serves_on_start(server, topic_name):
    line = server.wait_for_line("Serving", SRUID)
    assert f"port {server.port}" in line
    assert f"projects/{os.environ['GOOGLE_CLOUD_PROJECT']}/topics/{topic_name}" in line


def test_a_pushed_question_is_answered(wire):
    listener, _ = wire
    question_uuid = ask(wire, {"action": "echo", "value": [1, "two"]})

    received = listener.wait_for_final(question_uuid)

    assert kinds(received)[0] == "delivery_acknowledgement"
    assert received[-1]["event"] == {"kind": "result", "output_values": {"action": "echo", "value": [1, "two"]}}
    assert {event["attributes"]["sender"] for event in received} == {SRUID}


def test_an_invalid_question_gets_an_exception_answer(wire):
    listener, publisher = wire
    invalid_input = ask(wire, {"action": "no-such-action"})
    data, attributes = octue_question(SRUID, PARENT, {"action": "echo"})
    publisher.publish_raw(b"{broken json", attributes, wait=True)

    received = listener.wait_for_final(invalid_input)
    assert received[-1]["event"]["kind"] == "exception"
    assert received[-1]["event"]["exception_type"] == "InvalidValuesContents"
    assert "no-such-action" in received[-1]["event"]["exception_message"]

    [rejection] = listener.wait_for_final(attributes["question_uuid"])
    assert rejection["event"]["kind"] == "exception"
    assert "rejected" in rejection["event"]["exception_message"]


def test_a_question_for_another_service_is_not_answered_and_the_next_one_is(wire, server):
    listener, _ = wire
    other = "octue-beam-tests/another-service:local"
    foreign = publish_question(wire[1], other, PARENT, {"action": "echo", "value": "not for us"})
    following = ask(wire, {"action": "echo", "value": "for us"})

    assert listener.wait_for_final(following)[-1]["event"]["output_values"]["value"] == "for us"
    server.wait_for_line("Ignored", foreign, f"it is for '{other}'")
    assert listener.received(foreign) == []


def test_a_question_published_twice_while_it_runs_is_answered_once_and_again_later_without_a_second_run(wire, server):
    listener, _ = wire
    question_uuid = ask(wire, {"action": "sleep", "seconds": 4, "value": "once"})
    ask(wire, {"action": "sleep", "seconds": 4, "value": "once"}, question_uuid=question_uuid)

    received = listener.wait_for_final(question_uuid)
    server.wait_for_line("redelivery of question", question_uuid, "waited for the first delivery")
    assert received[-1]["event"] == {"kind": "result", "output_values": {"action": "sleep", "value": "once"}}
    assert kinds(received).count("delivery_acknowledgement") == 1

    ask(wire, {"action": "sleep", "seconds": 4, "value": "once"}, question_uuid=question_uuid)
    server.wait_for_line(f"Question {question_uuid} (retry 0) was already answered here")
    after = kinds(listener.received(question_uuid))
    assert after.count("delivery_acknowledgement") == 1
    assert [kind for kind in after if kind in FINAL] == ["result"]


def test_questions_pushed_together_are_answered_concurrently(wire):
    listener, _ = wire
    first = ask(wire, {"action": "sleep", "seconds": 3, "value": 1})
    second = ask(wire, {"action": "sleep", "seconds": 3, "value": 2})

    answers = {question_uuid: listener.wait_for_final(question_uuid) for question_uuid in (first, second)}

    # Each question was acknowledged (taken on) before the other one's result was sent: they ran at the same time.
    assert sent_at(answers[first], "delivery_acknowledgement") < sent_at(answers[second], "result")
    assert sent_at(answers[second], "delivery_acknowledgement") < sent_at(answers[first], "result")


def test_sigterm_lets_the_running_question_finish_then_serve_exits_0_without_having_imported_beam(pubsub_emulator):
    """Cloud Run stops an instance with SIGTERM (and SIGKILL 10 s later). The question pushed directly here (as
    Pub/Sub would) runs 2 s: its request is answered 200 once its answer is sent, and `serve` exits 0. `serve` runs
    with `python -X importtime`: neither gunicorn's arbiter nor its worker imported Beam."""
    topic_name = f"test.push.{uuid.uuid4().hex[:10]}"
    server = ServeProcess(FIXTURES / "behaviours", topic_name=topic_name, python_options=("-X", "importtime"))
    try:
        server.wait_until_ready()
        with wire_to(os.environ["GOOGLE_CLOUD_PROJECT"], PARENT, topic_name) as (listener, _):
            data, attributes = octue_question(SRUID, PARENT, {"action": "sleep", "seconds": 2, "value": "last"})
            question_uuid = attributes["question_uuid"]
            responses = []
            request = threading.Thread(target=lambda: responses.append(post(server.url, envelope(data, attributes))))
            request.start()
            while "delivery_acknowledgement" not in kinds(listener.received(question_uuid)):
                assert request.is_alive() or responses, "the request ended before the question was acknowledged"
                request.join(0.05)
            server.terminate()
            request.join(60)

            assert responses == [(200, f"Answered question {question_uuid} with a result.\n")]
            assert listener.wait_for_final(question_uuid)[-1]["event"]["output_values"]["value"] == "last"
        assert server.stop() == 0, server.output[-5000:]
    finally:
        server.stop()
    lines = server.output.splitlines()
    imported = [line.rsplit("|", 1)[1].strip() for line in lines if line.startswith("import time:")]
    assert "octue_beam.push.server" in imported and "gunicorn.arbiter" in imported  # the listing is real
    assert [name for name in imported if name.split(".")[0] == "apache_beam"] == []
