"""Bad input, one case at a time: deep nesting, injected IDs, IDs with control characters, patterns built to
backtrack, and the attributes an answer may copy from a question (the fuzz tests beside this one cover them in bulk).
"""

import json
import logging
import re
import uuid

import pytest

from octue_beam.answering import Answerer, Question, Rejection, check_message
from octue_beam.exceptions import InvalidEvent, InvalidServiceID
from octue_beam.messaging import events
from octue_beam.messaging.attributes import decode_attributes, response_attributes
from octue_beam.messaging.parsing import (
    MAX_NESTING_DEPTH,
    best_effort_question_attributes,
    nesting_depth,
    parse_message,
    validate_event,
)
from octue_beam.messaging.publishing import MemoryPublisher
from octue_beam.messaging.sruid import validate_sruid
from tests.fuzz.messages import INJECTIONS, PARENT, SRUID, deep_question, question
from tests.messaging.wire_examples import CHILD_SRUID, PARENT_SRUID, QUESTION, data
from tests.messaging.wire_examples import question_attributes as octue_069_attributes
from tests.support.paths import FIXTURES
from tests.support.wire import octue_question

MAX_BYTES = 10_000_000
BACKTRACKING_SENDER = "octue-beam-tests/fuzz-parent:" + "a" * 60 + "!"


@pytest.fixture(scope="module")
def loaded():
    publisher = MemoryPublisher()
    answerer = Answerer.load(str(FIXTURES / "behaviours"), publisher, sruid=SRUID, heartbeat_interval=0)
    yield answerer, publisher
    answerer.close()


def sent_for(publisher: MemoryPublisher, question_uuid: str) -> list[tuple[dict, dict]]:
    return [(event, sent) for event, sent in publisher.events() if sent["question_uuid"] == question_uuid]


# --- deep nesting ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [500, 1000, 100_000])
def test_a_question_nested_too_deep_is_an_invalid_event_naming_the_limit_not_a_recursion_error(loaded, depth):
    answerer, publisher = loaded
    message, attributes = deep_question(str(uuid.uuid4()), depth)
    rejection = check_message(message, attributes, SRUID, MAX_BYTES)
    assert isinstance(rejection, Rejection)
    assert rejection.reason == (
        f"The message data is nested too deeply: more than the limit of {MAX_NESTING_DEPTH} levels of objects and "
        "arrays."
    )
    assert answerer.reject(rejection) is True
    ((event, sent),) = sent_for(publisher, attributes["question_uuid"])
    assert event["exception_type"] == "InvalidEvent" and "nested too deeply" in event["exception_message"]
    assert sent["recipient"] == PARENT


@pytest.mark.parametrize("opener", ["[", "{"])
def test_input_values_nested_as_deep_as_the_limit_allows_are_answered(loaded, opener):
    answerer, _ = loaded
    depth = MAX_NESTING_DEPTH - 2  # the event and its input values are the first two levels
    message, attributes = deep_question(str(uuid.uuid4()), depth, opener)
    asked = check_message(message, attributes, SRUID, MAX_BYTES)
    assert isinstance(asked, Question) and nesting_depth(asked.event) == MAX_NESTING_DEPTH
    answer = answerer.answer(asked).wait()
    assert answer.kind == "result" and nesting_depth(answer.event["output_values"]["value"]) == depth


def test_nesting_depth_is_found_without_recursion():
    value: list = []
    for _ in range(100_000):
        value = [value]
    assert nesting_depth(value) == 100_001
    assert nesting_depth(value, limit=10) == 11
    assert nesting_depth({"a": [1, {"b": 2}], "c": 3}) == 3 and nesting_depth("text") == 0


# --- attributes a message carries never reach an answer unchecked ----------------------------------------------------


@pytest.mark.parametrize("sender", INJECTIONS)
def test_an_injected_sender_is_never_echoed_into_the_recipient_of_an_answer(loaded, caplog, sender):
    """The table's row "injection strings in attributes": a broken question whose `sender` is not an SRUID is
    answered to nobody (only dead-lettered), and the log says why; before, its exception went to the raw string."""
    answerer, publisher = loaded
    question_uuid = str(uuid.uuid4())
    message, attributes = question(question_uuid, {"action": "echo"}, sender=sender)
    checked = check_message(message, attributes, SRUID, MAX_BYTES)
    assert isinstance(checked, Rejection), checked
    before = len(publisher.messages)
    with caplog.at_level(logging.WARNING):
        assert answerer.reject(checked) is False
    assert publisher.messages[before:] == []
    assert f"its 'sender' attribute is {repr(sender)[:60]}" in caplog.text
    assert "not an SRUID; it is only dead-lettered" in caplog.text


@pytest.mark.parametrize("name", ["parent", "originator", "originator_question_uuid", "parent_question_uuid",
                                  "retry_count", "sender_sdk_version", "datetime", "save_diagnostics"])
@pytest.mark.parametrize("injection", [INJECTIONS[0], INJECTIONS[2], "x" * 5000])
def test_a_rejection_copies_only_valid_attributes_into_its_exception(loaded, name, injection):
    answerer, publisher = loaded
    question_uuid = str(uuid.uuid4())
    _, attributes = question(question_uuid, {"action": "echo"}, **{name: injection})
    rejection = check_message(b"not json", attributes, SRUID, MAX_BYTES)
    assert answerer.reject(rejection) is True
    ((event, sent),) = sent_for(publisher, question_uuid)
    assert injection not in sent.values() and injection[:40] not in json.dumps(sent)
    parse_message(json.dumps(event).encode(), sent)  # every attribute valid on the wire
    assert sent["recipient"] == PARENT and sent["sender"] == SRUID
    assert sent["parent"] == PARENT and sent["originator"] == PARENT and sent["retry_count"] == "0"
    assert sent["originator_question_uuid"] == question_uuid and "parent_question_uuid" not in sent


def test_best_effort_attributes_need_a_valid_question_uuid_sender_and_recipient():
    base = octue_069_attributes()
    assert best_effort_question_attributes(base) is not None
    for name, value in [("question_uuid", "1234"), ("question_uuid", base["question_uuid"] + "\n"),
                        ("sender", "Not An SRUID"), ("sender", PARENT_SRUID + "\n"), ("sender", BACKTRACKING_SENDER),
                        ("recipient", "octue/test-service"), ("sender", "a/b:" + "t" * 129)]:
        assert best_effort_question_attributes({**base, name: value}) is None, (name, value)


def test_response_attributes_refuse_to_copy_invalid_values():
    typed = decode_attributes(octue_069_attributes())
    assert response_attributes(typed, "0.1.0")["recipient"] == PARENT_SRUID
    for name, value in [("sender", INJECTIONS[0]), ("sender", PARENT_SRUID + "\n"), ("parent", "../x"),
                        ("question_uuid", "1234"), ("originator_question_uuid", None), ("retry_count", -1),
                        ("retry_count", "0"), ("parent_question_uuid", "x")]:
        with pytest.raises(ValueError, match=repr(name)):
            response_attributes({**typed, name: value}, "0.1.0")


def test_questions_exactly_as_octue_069_sends_them_are_still_accepted_answered_and_rejected_with_their_tree(loaded):
    """Interop: every attribute Octue 0.69 sends stays valid, and answers copy the tree unchanged."""
    answerer, publisher = loaded
    attributes = octue_069_attributes(recipient=SRUID)
    event, typed = parse_message(data(QUESTION), octue_069_attributes())
    assert typed["sender"] == PARENT_SRUID and typed["recipient"] == CHILD_SRUID
    rejection = check_message(b"{", attributes, SRUID, MAX_BYTES)
    assert answerer.reject(rejection) is True
    ((_, sent),) = sent_for(publisher, attributes["question_uuid"])
    for name in ("question_uuid", "parent_question_uuid", "originator_question_uuid", "parent", "originator"):
        assert sent[name] == attributes[name], name
    assert sent["recipient"] == PARENT_SRUID and sent["retry_count"] == "0"
    message, wire = octue_question(SRUID, PARENT, {"action": "echo", "value": 1}, retry_count=2)
    answer = answerer.answer(check_message(message, wire, SRUID, MAX_BYTES)).wait()
    assert answer.kind == "result" and answer.attributes["retry_count"] == 2


# --- IDs are validated before use --------------------------------------------------------------------------------


@pytest.mark.timeout(30)
def test_an_sruid_built_to_backtrack_is_refused_at_once():
    """The revision tag pattern had nested quantifiers: `a` * 60 + `!` took exponential time in the schema's check
    and in `messaging.sruid`, hanging the service's check of every later message."""
    with pytest.raises(InvalidServiceID):
        validate_sruid(BACKTRACKING_SENDER)
    _, attributes = question(str(uuid.uuid4()), {"action": "echo"}, sender=BACKTRACKING_SENDER)
    with pytest.raises(InvalidEvent, match="Attribute 'sender' is invalid"):
        parse_message(data({"kind": "question"}), attributes)


@pytest.mark.parametrize("name", ["sender", "recipient", "parent", "originator", "question_uuid",
                                  "originator_question_uuid", "parent_question_uuid", "uuid", "datetime"])
@pytest.mark.parametrize("suffix", ["\n", "\r\n", "\x00"])
def test_ids_with_control_characters_are_refused(name, suffix):
    """The schema's `$` also matches before a final newline, so `<SRUID>\\n` used to pass as an SRUID."""
    attributes = octue_069_attributes()
    attributes[name] += suffix
    with pytest.raises(InvalidEvent, match=f"Attribute {name!r} is invalid"):
        parse_message(data(QUESTION), attributes)
    with pytest.raises(InvalidServiceID):
        validate_sruid(PARENT_SRUID + suffix)


@pytest.mark.parametrize(
    "child, where",
    [
        ({"key": "k", "id": INJECTIONS[0], "backend": {"name": "GCPPubSubBackend"}}, "children[0].id"),
        ({"key": "k", "id": "a/b:1\n", "backend": {"name": "GCPPubSubBackend"}}, "children[0].id"),
        ({"key": "k", "id": "a/b:1", "backend": {"name": "GCPPubSubBackend", "project_id": "p/topics/other"}},
         "children[0].backend.project_id"),
        ({"key": "k", "id": "a/b:1", "backend": {"name": "GCPPubSubBackend", "project_id": 'p" OR "'}},
         "children[0].backend.project_id"),
        ({"key": "k", "id": "a/b:1", "backend": {"name": "GCPPubSubBackend", "project_id": "p\n"}},
         "children[0].backend.project_id"),
    ],
)
def test_the_ids_of_a_questions_children_are_checked_before_use_in_names(child, where):
    with pytest.raises(InvalidEvent, match=re.escape(f"The event is invalid at $.event.{where}: ")):
        parse_message(data({"kind": "question", "children": [child]}), octue_069_attributes())


def test_the_children_octue_sends_are_accepted():
    parse_message(data(QUESTION), octue_069_attributes())
    children = [{"key": "k", "id": "my-org/my-service", "backend": {"name": "GCPPubSubBackend",
                                                                   "project_id": "example.com:my-project"}}]
    parse_message(data({"kind": "question", "children": children}), octue_069_attributes())


def test_exception_events_built_for_rejections_are_valid_wire_events():
    typed = decode_attributes(octue_069_attributes())
    validate_event(events.exception(InvalidEvent("bad question")), response_attributes(typed, "0.1.0"))
