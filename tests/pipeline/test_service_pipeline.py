"""End to end: a service pipeline on the DirectRunner against the real Pub/Sub emulator.

One service (tests/pipeline/fixtures/behaviours) runs for the whole module; its app echoes, crashes, sleeps, logs
or sends monitor messages depending on `input_values["action"]`. Questions are built as Octue 0.69 builds them.
"""

import json
import os
import uuid

import pytest

from octue_beam.messaging.parsing import parse_message
from tests.support.serving import behaviours_service
from tests.support.wire import octue_question, publish_question, wire_to

SRUID = "octue-beam-tests/behaviours:local"
PARENT = "octue-beam-tests/parent:local"
MAX_MESSAGE_BYTES = 20_000


DEAD_LETTER_TOPIC = f"test.dead-letters.{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def dead_letters(pubsub_emulator):
    """A subscription on the dead-letter topic the service is given (made before the service starts)."""
    from octue_beam.messaging.pubsub import delete_subscription, ensure_subscription

    project = os.environ["GOOGLE_CLOUD_PROJECT"]
    name = ensure_subscription(project, DEAD_LETTER_TOPIC + ".reader", DEAD_LETTER_TOPIC, enable_message_ordering=False)
    try:
        yield name
    finally:
        delete_subscription(project, name)


@pytest.fixture(scope="module")
def service(pubsub_emulator, dead_letters):
    options = ("--heartbeat_interval", "0.3", "--max_message_bytes", str(MAX_MESSAGE_BYTES))
    with behaviours_service(*options, "--dead_letter_topic", DEAD_LETTER_TOPIC) as process:
        yield process


def pull_dead_letters(subscription, wanted, timeout=30):
    """Dead letters (data, attributes) until one satisfies `wanted(attributes)`; all of them pulled so far."""
    import time

    from google.cloud import pubsub_v1

    subscriber = pubsub_v1.SubscriberClient()
    letters = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            response = subscriber.pull(subscription=subscription, max_messages=50, timeout=5)
            if response.received_messages:
                subscriber.acknowledge(
                    subscription=subscription, ack_ids=[m.ack_id for m in response.received_messages]
                )
            letters += [(m.message.data, dict(m.message.attributes)) for m in response.received_messages]
            if any(wanted(attributes) for _, attributes in letters):
                return letters
        raise TimeoutError(f"No wanted dead letter within {timeout} s; got {letters}")
    finally:
        subscriber.close()


@pytest.fixture(scope="module")
def wire(service):
    """(listener of answers to PARENT, publisher) on the service's topic."""
    with wire_to(os.environ["GOOGLE_CLOUD_PROJECT"], PARENT, service.topic_name) as listener_and_publisher:
        yield listener_and_publisher


def ask(wire, input_values, **kwargs):
    """Publish a question built like Octue's; return its UUID."""
    return publish_question(wire[1], SRUID, PARENT, input_values, **kwargs)


def kinds(received):
    return [event["event"]["kind"] for event in received]


def assert_valid_wire_events(received):
    """Every event the service sent validates against the wire schema and is addressed to the parent."""
    for message in received:
        event, attributes = parse_message(message["raw_data"], message["attributes"])
        assert attributes["sender"] == SRUID and attributes["recipient"] == PARENT
        assert attributes["sender_type"] == "CHILD"


def assert_ordered(received):
    """ack -> (heartbeat | log_record | monitor_message)* -> result|exception."""
    names = kinds(received)
    assert names[0] == "delivery_acknowledgement", names
    assert names[-1] in ("result", "exception"), names
    assert set(names[1:-1]) <= {"heartbeat", "log_record", "monitor_message"}, names


def test_question_built_like_octue_is_answered(wire, service):
    question_uuid = ask(wire, {"action": "echo", "value": [1, 2, 3]})
    received = wire[0].wait_for_final(question_uuid)
    assert_ordered(received)
    assert_valid_wire_events(received)
    assert "heartbeat" not in kinds(received)  # an instant answer: the first heartbeat is due one interval later
    result = received[-1]
    assert result["event"] == {"kind": "result", "output_values": {"action": "echo", "value": [1, 2, 3]}}
    assert result["attributes"]["question_uuid"] == question_uuid
    assert result["attributes"]["retry_count"] == "0"
    assert result["attributes"]["originator_question_uuid"] == question_uuid


def test_forwarded_logs_and_monitor_messages_arrive_in_order(wire):
    logging_question = ask(wire, {"action": "log"}, forward_logs=True)
    monitoring_question = ask(wire, {"action": "monitor"})
    silent_question = ask(wire, {"action": "log"}, forward_logs=False)

    logged = wire[0].wait_for_final(logging_question)
    assert_ordered(logged)
    assert_valid_wire_events(logged)
    messages = [e["event"]["log_record"]["msg"] for e in logged if e["event"]["kind"] == "log_record"]
    assert [m for m in messages if m.startswith("Log line")] == [
        f"Log line {n} of question {logging_question}." for n in range(3)
    ]

    monitored = wire[0].wait_for_final(monitoring_question)
    assert_ordered(monitored)
    assert_valid_wire_events(monitored)
    assert [e["event"]["data"] for e in monitored if e["event"]["kind"] == "monitor_message"] == [
        {"progress": 0.25}, {"progress": 0.5}, {"progress": 1.0}
    ]

    silent = wire[0].wait_for_final(silent_question)
    assert "log_record" not in kinds(silent)


def test_heartbeats_are_sent_while_the_app_runs(wire):
    question_uuid = ask(wire, {"action": "sleep", "seconds": 1.5})
    received = wire[0].wait_for_final(question_uuid)
    assert_ordered(received)
    assert kinds(received).count("heartbeat") >= 3  # every 0.3 s from the acknowledgement


@pytest.mark.parametrize(
    "input_values, exception_type, message_part",
    [
        ({"action": "not-an-action"}, "InvalidValuesContents", "not-an-action"),
        ({"action": "crash", "value": 7}, "ValueError", "crashed on purpose (value=7)"),
        ({"action": "invalid-output"}, "InvalidValuesContents", "output_values"),
    ],
    ids=["invalid input", "app crash", "invalid output"],
)
def test_failures_get_an_exception_and_the_service_keeps_serving(wire, input_values, exception_type, message_part):
    failing = ask(wire, input_values)
    following = ask(wire, {"action": "echo", "value": "still here"})

    received = wire[0].wait_for_final(failing)
    assert_ordered(received)
    assert_valid_wire_events(received)
    exception = received[-1]["event"]
    assert exception["kind"] == "exception"
    assert exception["exception_type"] == exception_type
    assert message_part in exception["exception_message"]
    assert isinstance(exception["exception_traceback"], list)
    if exception_type == "ValueError":
        assert any("app.py" in line for line in exception["exception_traceback"])

    assert wire[0].wait_for_final(following)[-1]["event"]["output_values"] == {"action": "echo", "value": "still here"}


def _broken(attributes, **changes):
    broken = {**attributes, **changes}
    return {key: value for key, value in broken.items() if value is not None}


@pytest.mark.parametrize(
    "make_message, reason_part",
    [
        (lambda data, attributes: (b"{not json", attributes), "not valid JSON"),
        (lambda data, attributes: (data, _broken(attributes, uuid=None, datetime=None)), "'uuid'"),
        (lambda data, attributes: (json.dumps({"kind": "riddle"}).encode(), attributes), "riddle"),
        (lambda data, attributes: (json.dumps({"kind": "result"}).encode(), attributes), "only 'question'"),
        (lambda data, attributes: (data, _broken(attributes, retry_count="many")), "retry_count"),
        (
            lambda data, attributes: (
                json.dumps(
                    {"kind": "question", "input_values": {"action": "echo", "value": "x" * MAX_MESSAGE_BYTES}}
                ).encode(),
                attributes,
            ),
            "more than the limit",
        ),
    ],
    ids=["non-JSON data", "missing attributes", "unknown kind", "not a question", "malformed attribute", "oversize"],
)
def test_invalid_messages_get_an_exception_naming_the_problem(wire, service, make_message, reason_part):
    listener, publisher = wire
    data, attributes = octue_question(SRUID, PARENT, {"action": "echo"})
    data, attributes = make_message(data, attributes)
    publisher.publish_raw(data, attributes, ordering_key=attributes["question_uuid"], wait=True)

    received = listener.wait_for_final(attributes["question_uuid"])
    assert kinds(received) == ["exception"]
    assert received[0]["event"]["exception_type"] == "InvalidEvent"
    assert reason_part in received[0]["event"]["exception_message"]
    assert_valid_wire_events(received)
    # and the service still answers
    assert kinds(listener.wait_for_final(ask(wire, {"action": "echo"})))[-1] == "result"


def test_invalid_messages_go_to_the_dead_letter_topic_with_the_reason(wire, dead_letters):
    _, publisher = wire
    marker = str(uuid.uuid4())
    # Addressed to the service but saying nothing about who asked: it cannot be answered, only dead-lettered.
    publisher.publish_raw(b"garbage", {"recipient": SRUID, "marker": marker}, wait=True)
    letters = pull_dead_letters(dead_letters, lambda attributes: attributes.get("marker") == marker)
    data, attributes = next((d, a) for d, a in letters if a.get("marker") == marker)
    assert data == b"garbage"
    assert "lacks the required attribute" in attributes["octue_beam_rejection_reason"]


def test_a_duplicate_delivery_is_answered_once_and_a_retry_again(wire):
    listener, publisher = wire
    data, attributes = octue_question(SRUID, PARENT, {"action": "echo", "value": "once"})
    question_uuid = attributes["question_uuid"]
    # Same ordering key: delivered (and checked for duplicates) in this order, before the sentinel.
    publisher.publish_raw(data, attributes, ordering_key=question_uuid, wait=True)
    publisher.publish_raw(data, attributes, ordering_key=question_uuid, wait=True)
    sentinel_data, sentinel_attributes = octue_question(SRUID, PARENT, {"action": "echo"})
    publisher.publish_raw(sentinel_data, sentinel_attributes, ordering_key=question_uuid, wait=True)
    listener.wait_for_final(sentinel_attributes["question_uuid"])
    received = listener.wait_for_final(question_uuid)
    assert kinds(received).count("delivery_acknowledgement") == 1
    assert kinds(received).count("result") == 1

    retry_data, retry_attributes = octue_question(
        SRUID, PARENT, {"action": "echo", "value": "once"}, question_uuid=question_uuid, retry_count=1
    )
    publisher.publish_raw(retry_data, retry_attributes, ordering_key=question_uuid, wait=True)
    received = listener.wait_for_final(question_uuid, count=2)
    results = [e for e in received if e["event"]["kind"] == "result"]
    assert [r["attributes"]["retry_count"] for r in results] == ["0", "1"]


def test_messages_for_another_recipient_are_ignored(wire):
    listener, publisher = wire
    other_uuid = str(uuid.uuid4())
    for recipient, sender_type in (("octue-beam-tests/other:local", "PARENT"), (SRUID, "CHILD")):
        data, attributes = octue_question(recipient, PARENT, {"action": "echo"}, question_uuid=other_uuid)
        attributes["sender_type"] = sender_type
        publisher.publish_raw(data, attributes, ordering_key=other_uuid, wait=True)
    sentinel_data, sentinel_attributes = octue_question(SRUID, PARENT, {"action": "echo"})
    publisher.publish_raw(sentinel_data, sentinel_attributes, ordering_key=other_uuid, wait=True)
    listener.wait_for_final(sentinel_attributes["question_uuid"])
    assert listener.received(other_uuid) == []


def test_questions_that_arrive_together_are_answered_concurrently(wire):
    import datetime

    listener, publisher = wire
    messages = [octue_question(SRUID, PARENT, {"action": "sleep", "seconds": 1}) for _ in range(10)]
    futures = [publisher.publish_raw(data, attributes) for data, attributes in messages]
    for future in futures:
        future.result(timeout=30)

    spans = []
    for _, attributes in messages:
        received = listener.wait_for_final(attributes["question_uuid"])
        assert received[-1]["event"]["kind"] == "result"
        times = [datetime.datetime.fromisoformat(e["attributes"]["datetime"]) for e in received]
        spans.append((times[0], times[-1]))  # from acknowledgement to result, as stamped by the service
    most_at_once = max(sum(start <= moment < end for start, end in spans) for moment, _ in spans)
    assert most_at_once >= 5, spans


def test_a_question_exactly_as_octue_069_sends_it_is_answered_with_its_tree_attributes(wire):
    """Attributes as Octue's QuestionAttributes serialise them (M's recorded example), for a non-root question."""
    from tests.messaging.wire_examples import question_attributes as octue_attributes

    listener, publisher = wire
    question_uuid, parent_question_uuid, originator_question_uuid = (str(uuid.uuid4()) for _ in range(3))
    attributes = octue_attributes(
        question_uuid=question_uuid,
        parent_question_uuid=parent_question_uuid,
        originator_question_uuid=originator_question_uuid,
        parent=PARENT,
        originator="octue/originator:1.0.0",
        sender=PARENT,
        recipient=SRUID,
        forward_logs="0",
    )
    data = json.dumps(
        {"kind": "question", "input_values": {"action": "echo", "value": {"nested": [1.5, None]}}}
    ).encode()
    publisher.publish_raw(data, attributes, ordering_key=question_uuid, wait=True)

    received = listener.wait_for_final(question_uuid)
    assert_ordered(received)
    assert_valid_wire_events(received)
    result = received[-1]
    assert result["event"]["output_values"] == {"action": "echo", "value": {"nested": [1.5, None]}}
    for key, value in {
        "question_uuid": question_uuid,
        "parent_question_uuid": parent_question_uuid,
        "originator_question_uuid": originator_question_uuid,
        "parent": PARENT,
        "originator": "octue/originator:1.0.0",
        "sender": SRUID,
        "recipient": PARENT,
        "sender_type": "CHILD",
        "retry_count": "0",
    }.items():
        assert result["attributes"][key] == value, key
    assert len({event["attributes"]["uuid"] for event in received}) == len(received)  # a new uuid per event
