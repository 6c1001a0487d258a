"""No question blocks another, on a served service (the `run` command on the local runner, the Pub/Sub emulator).

Issue 11 measured that one hanging question silenced a service: `finish_bundle` waited for every question of its
bundle and the local runner's single thread pulled nothing else. Here the service has 2 slots and a time limit of
TIME_LIMIT seconds (`--question_timeout`); the `hang` action never returns and logs every 0.2 s.
"""

import os
import time

import pytest

from tests.support.serving import behaviours_service
from tests.support.wire import publish_question, wire_to

SRUID = "octue-beam-tests/behaviours:local"
PARENT = "octue-beam-tests/unblocked-parent:local"
TIME_LIMIT = 8
FINAL = ("result", "exception")


@pytest.fixture(scope="module")
def service(pubsub_emulator):
    options = ("--question_timeout", str(TIME_LIMIT), "--heartbeat_interval", "1", "--max_concurrent_questions", "2")
    with behaviours_service(*options) as process:
        yield process


@pytest.fixture(scope="module")
def wire(service):
    with wire_to(os.environ["GOOGLE_CLOUD_PROJECT"], PARENT, service.topic_name) as listener_and_publisher:
        yield listener_and_publisher


def ask(wire, input_values, **options) -> str:
    return publish_question(wire[1], SRUID, PARENT, input_values, **options)


def kinds(received) -> list[str]:
    return [event["event"]["kind"] for event in received]


def acknowledged(listener, question_uuid, timeout=60) -> None:
    """Wait until the service acknowledged the question: it was pulled, so what is sent next comes in a later pull."""
    deadline = time.monotonic() + timeout
    while "delivery_acknowledgement" not in kinds(listener.received(question_uuid)):
        assert time.monotonic() < deadline, f"question {question_uuid} was not acknowledged"
        time.sleep(0.05)


def test_a_hanging_question_does_not_stop_the_next_ones_and_gets_one_exception_at_its_limit(wire, service):
    listener, _ = wire
    hanging = ask(wire, {"action": "hang"}, forward_logs=True)
    acknowledged(listener, hanging)
    normal = [ask(wire, {"action": "echo", "value": number}) for number in range(5)]

    for number, question_uuid in enumerate(normal):
        received = listener.wait_for_final(question_uuid, timeout=60)
        assert received[-1]["event"] == {"kind": "result", "output_values": {"action": "echo", "value": number}}
    assert not [kind for kind in kinds(listener.received(hanging)) if kind in FINAL], (
        "the normal questions were answered only after the hanging one ended"
    )

    received = listener.wait_for_final(hanging, timeout=60)
    exception = received[-1]["event"]
    assert exception["kind"] == "exception"
    assert exception["exception_type"] == "QuestionTimeLimitExceeded"
    assert f"{TIME_LIMIT} s" in exception["exception_message"]
    assert "question_timeout" in exception["exception_message"]
    assert any("app.py" in line for line in exception["exception_traceback"]), "the traceback is not the app's"
    assert "log_record" in kinds(received) and "heartbeat" in kinds(received)

    # The app still runs and logs every 0.2 s, heartbeats were due every second: nothing reaches the parent.
    time.sleep(3)
    after = listener.received(hanging)
    assert kinds(after) == kinds(received)
    assert [kind for kind in kinds(after) if kind in FINAL] == ["exception"]


def test_with_more_hanging_questions_than_slots_the_others_are_answered_in_turn(wire):
    listener, _ = wire
    hanging = [ask(wire, {"action": "hang"}) for _ in range(3)]
    for question_uuid in hanging:
        acknowledged(listener, question_uuid)
    normal = [ask(wire, {"action": "echo", "value": number}) for number in range(5)]
    for question_uuid in normal:  # queued questions are acknowledged at once
        acknowledged(listener, question_uuid)

    for number, question_uuid in enumerate(normal):
        received = listener.wait_for_final(question_uuid, timeout=4 * TIME_LIMIT + 60)
        assert received[-1]["event"] == {"kind": "result", "output_values": {"action": "echo", "value": number}}
        assert kinds(received)[0] == "delivery_acknowledgement"

    # Two slots: the normal questions ran only in slots the time limit took from hanging ones. Those questions' time-
    # limit exceptions were sent before their slots were given on, but under another ordering key than the normal
    # answers, so the emulator may deliver them a moment after those.
    deadline = time.monotonic() + 30
    while True:
        ended = [uuid_ for uuid_ in hanging if any(kind in FINAL for kind in kinds(listener.received(uuid_)))]
        if len(ended) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(ended) >= 2, "slots were freed for the normal questions without ending hanging ones"
    for question_uuid in ended:
        finals = [event["event"] for event in listener.received(question_uuid) if event["event"]["kind"] in FINAL]
        assert [final["exception_type"] for final in finals] == ["QuestionTimeLimitExceeded"]
