import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from octue_beam.exceptions import InvalidEvent
from octue_beam.messaging import attributes as wire_attributes
from octue_beam.messaging import events
from octue_beam.messaging.parsing import (
    best_effort_question_attributes,
    is_addressed_to,
    is_valid_message,
    parse_message,
    validate_event,
    validator,
)
from tests.messaging.wire_examples import (
    CHILD_SRUID,
    PARENT_SRUID,
    QUESTION,
    QUESTION_UUID,
    RESPONSES,
    data,
    question_attributes,
    response_attributes,
)


def test_octue_question_is_valid_and_attributes_are_typed():
    event, attributes = parse_message(data(QUESTION), question_attributes())
    assert event == QUESTION
    assert attributes["forward_logs"] is True
    assert attributes["retry_count"] == 0
    assert attributes["question_uuid"] == QUESTION_UUID


def test_originator_question_without_parent_question_uuid_is_valid():
    parse_message(data({"kind": "question", "input_values": {"n": 1}}), question_attributes(parent_question_uuid=None))


@pytest.mark.parametrize("event", RESPONSES, ids=lambda e: e["kind"])
def test_octue_responses_are_valid(event):
    parsed, attributes = parse_message(data(event), response_attributes())
    assert parsed == event
    assert attributes["sender_type"] == "CHILD"


def test_events_built_by_octue_beam_are_valid():
    import logging

    question = wire_attributes.question_attributes(
        sender=PARENT_SRUID, recipient=CHILD_SRUID, sender_sdk_version="0.1.0"
    )
    response = wire_attributes.response_attributes(question, "0.1.0")
    record = logging.LogRecord("app", logging.INFO, "app.py", 3, "Hello %s", ("world",), None)
    try:
        raise KeyError("boom")
    except KeyError as error:
        exception = events.exception(error)
    for event, attributes in [
        (events.question(input_values={"a": 1}), question),
        (events.delivery_acknowledgement(), response),
        (events.heartbeat(), response),
        (events.log_record(record), response),
        (events.monitor_message([1, 2]), response),
        (exception, response),
        (events.result(output_values={}), response),
    ]:
        encoded = wire_attributes.encode_attributes(attributes)
        parse_message(json.dumps(event).encode(), encoded)


@pytest.mark.parametrize(
    "raw, match",
    [
        (b"not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"kind": "cancellation"}', "'cancellation', which is not one of"),
        (b'{"input_values": 1}', "'kind' is None"),
        (b'{"kind": "question", "input_values": 1, "extra": 2}', r"\$\.event.*'extra' was unexpected"),
        (b'{"kind": "exception", "exception_type": "ValueError"}', r"\$\.event.*'exception_message' is a required"),
        (b'{"kind": "monitor_message"}', "'data' is a required property"),
        (b'{"kind": "question", "input_manifest": {"id": "x"}}', r"\$\.event\.input_manifest"),
        (b'{"kind": "question", "children": [{"key": "a"}]}', r"\$\.event\.children\[0\]"),
    ],
)
def test_invalid_events_are_rejected_with_a_reason(raw, match):
    with pytest.raises(InvalidEvent, match=match):
        parse_message(raw, question_attributes())


@pytest.mark.parametrize(
    "overrides, match",
    [
        ({"recipient": None}, "lacks the required attribute.*'recipient'"),
        ({"question_uuid": None, "sender": None}, "'question_uuid', 'sender'"),
        ({"retry_count": "once"}, "'retry_count' must be an integer"),
        ({"forward_logs": "yes"}, "'forward_logs' must be '1' or '0'"),
        ({"sender_type": "SIBLING"}, "Attribute 'sender_type' is invalid"),
        ({"save_diagnostics": "ALWAYS"}, "Attribute 'save_diagnostics' is invalid"),
        ({"sender": "Not An SRUID"}, "Attribute 'sender' is invalid"),
        ({"recipient": "octue/test-service"}, "Attribute 'recipient' is invalid"),
        ({"question_uuid": "1234"}, "Attribute 'question_uuid' is invalid"),
        ({"retry_count": "-1"}, "Attribute 'retry_count' is invalid"),
    ],
)
def test_invalid_attributes_are_rejected_naming_the_attribute(overrides, match):
    with pytest.raises(InvalidEvent, match=match):
        parse_message(data(QUESTION), question_attributes(**overrides))


def test_oversize_message_is_rejected():
    with pytest.raises(InvalidEvent, match="more than the limit of 100 bytes"):
        parse_message(data(QUESTION), question_attributes(), max_bytes=100)


def test_validate_event_uses_one_compiled_validator():
    assert validator() is validator()
    validate_event({"kind": "heartbeat"}, wire_attributes.decode_attributes(response_attributes()))


def test_is_addressed_to():
    assert is_addressed_to(question_attributes(), CHILD_SRUID, "PARENT")
    assert is_addressed_to(question_attributes(), CHILD_SRUID)
    assert not is_addressed_to(question_attributes(), "octue/other:1.0.0")
    assert not is_addressed_to(response_attributes(recipient=CHILD_SRUID), CHILD_SRUID)
    assert is_addressed_to(response_attributes(), PARENT_SRUID, "CHILD")
    assert not is_addressed_to({}, CHILD_SRUID)


def test_best_effort_attributes_of_a_broken_question_allow_an_answer():
    raw = question_attributes(retry_count="x", forward_logs="maybe", uuid=None, originator=None)
    attributes = best_effort_question_attributes(raw)
    assert attributes["question_uuid"] == QUESTION_UUID
    assert attributes["retry_count"] == 0
    assert attributes["forward_logs"] is False
    assert attributes["originator"] == PARENT_SRUID
    response = wire_attributes.response_attributes(attributes, "0.1.0")
    assert response["recipient"] == PARENT_SRUID and response["sender"] == CHILD_SRUID
    validate_event(events.exception(ValueError("bad question")), response)


@pytest.mark.parametrize("missing", ["question_uuid", "sender", "recipient"])
def test_best_effort_attributes_need_who_asked(missing):
    assert best_effort_question_attributes(question_attributes(**{missing: None})) is None


def test_octue_details_are_accepted():
    """Octue 0.69 publishes timezone-aware datetimes and vars(LogRecord) with extra fields (e.g. taskName)."""
    from tests.messaging.wire_examples import LOG_RECORD

    log_record = {**LOG_RECORD, "log_record": {**LOG_RECORD["log_record"], "taskName": None, "analysis_id": "x"}}
    parse_message(data(log_record), response_attributes(datetime="2024-04-11T10:46:48.236064+00:00"))
    parse_message(data(QUESTION), question_attributes(datetime="2024-04-11T10:46:48.236064+00:00", cpus="2",
                                                      memory="256Mi", ephemeral_storage="1Gi"))


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=6,
)
_KEYS = ["kind", "input_values", "input_manifest", "children", "datasets", "output_values", "output_manifest", "data",
         "log_record", "exception_type", "exception_message", "exception_traceback", "id", "key", "backend", "name",
         "uuid", "datetime", "question_uuid", "parent_question_uuid", "originator_question_uuid", "parent",
         "originator", "sender", "sender_type", "sender_sdk_version", "recipient", "retry_count", "forward_logs",
         "save_diagnostics", "cpus", "memory"]
_KIND_VALUES = st.sampled_from([*events.KINDS, "unknown", "", None, 3, ["question"]])


def _mutated(draw, value, depth=0):
    """`value` with a few random changes at any depth: a key set to another value (often a valid kind or an
    example's own value), removed or added."""
    if not isinstance(value, dict) or depth > 3:
        return value
    value = dict(value)
    for _ in range(draw(st.integers(0, 2))):
        key = draw(st.sampled_from(sorted(value) + _KEYS) if value else st.sampled_from(_KEYS))
        action = draw(st.sampled_from(["set", "delete", "recurse", "kind"]))
        if action == "delete":
            value.pop(key, None)
        elif action == "recurse" and isinstance(value.get(key), dict):
            value[key] = _mutated(draw, value[key], depth + 1)
        elif action == "kind":
            value["kind"] = draw(_KIND_VALUES)
        else:
            value[key] = draw(_JSON)
    return value


@st.composite
def _messages(draw):
    event = draw(st.sampled_from([QUESTION, *RESPONSES]))
    typed = wire_attributes.decode_attributes(
        question_attributes() if event is QUESTION else response_attributes()
    )
    return _mutated(draw, event), _mutated(draw, typed)


@settings(max_examples=400, deadline=None)
@given(_messages())
def test_the_fast_check_agrees_with_the_whole_schema(message):
    """`is_valid_message` takes the schema apart by kind to be fast; for valid and broken messages alike it says
    what the whole schema says."""
    event, typed = message
    assert is_valid_message(event, typed) == validator().is_valid({"event": event, "attributes": typed})


def test_the_fast_check_accepts_every_example_and_refuses_broken_ones():
    for event in [QUESTION, *RESPONSES]:
        typed = wire_attributes.decode_attributes(
            question_attributes() if event is QUESTION else response_attributes()
        )
        assert is_valid_message(event, typed), event
    typed = wire_attributes.decode_attributes(response_attributes())
    assert not is_valid_message({"kind": "result", "output_manifest": 3}, typed)
    assert not is_valid_message({"kind": "nothing"}, typed)
    assert not is_valid_message({"kind": "heartbeat"}, {**typed, "uuid": "not-a-uuid"})
