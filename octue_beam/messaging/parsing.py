"""Parsing and checking incoming Pub/Sub messages against the wire protocol.

`parse_message` turns a message's bytes and string attributes into `(event, typed attributes)` or raises
InvalidEvent with a reason that names the field or attribute. The vendored schema
`octue_beam/schemas/service_communication.json` is compiled once per process.

Who a message is for is decided before parsing: a reader ignores (acks, never answers) messages whose
`recipient`/`sender_type` are not its own (`is_addressed_to`); the Pub/Sub emulator does not apply filters.
A question addressed to us but broken gets an `exception` answer when `best_effort_question_attributes` can tell
who asked: only a valid question UUID and a valid sender SRUID say that, and nothing else from a broken message is
copied into the answer unchecked.

Input is bounded before anything recurses over it: a question nested more than `MAX_NESTING_DEPTH` levels deep is
an InvalidEvent (the twine's validation, the app and the answer all walk values recursively).
"""

import functools
import json
import logging
import re
from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from octue_beam.exceptions import InvalidEvent, InvalidServiceID
from octue_beam.messaging.attributes import (
    COMMON_ATTRIBUTES,
    PARENT,
    QUESTION_ATTRIBUTES,
    SAVE_DIAGNOSTICS_MODES,
    SAVE_DIAGNOSTICS_ON_CRASH,
    SRUID_ATTRIBUTES,
    decode_attributes,
    is_sruid,
    is_uuid,
)
from octue_beam.messaging.events import KINDS, QUESTION
from octue_beam.messaging.sruid import split_service_id
from octue_beam.schemas import load_schema

logger = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 10_000_000  # Pub/Sub's limit on a message's size
#: How deeply a question's event may nest (the event object is level 1, so input values get 99 levels). Values are
#: walked recursively after parsing (twine validation, the app, serialising the answer); Python's recursion limit
#: would end a question nested a few hundred levels deep with a RecursionError, so deeper input is refused up front.
MAX_NESTING_DEPTH = 100
SCHEMA_NAME = "service_communication"

#: Attributes every event must carry (parent_question_uuid is omitted on originator questions).
REQUIRED_ATTRIBUTES = tuple(name for name in COMMON_ATTRIBUTES if name != "parent_question_uuid")

_MAX_ATTRIBUTE_LENGTH = 1024  # Pub/Sub's limit on attribute values
_PROTOCOL_ATTRIBUTES = frozenset(COMMON_ATTRIBUTES + QUESTION_ATTRIBUTES)
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")
# The wire schema's datetime and SDK version patterns (ASCII digits only); a retry count is decimal digits.
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?", re.ASCII)
_SDK_VERSION = re.compile(r"\d+\.\d+\.\d+([-+.][0-9A-Za-z.+-]*)?", re.ASCII)
_RETRY_COUNT = re.compile(r"\d+", re.ASCII)
# A Google Cloud project ID (optionally domain-scoped, `example.com:my-project`): no `/`, quotes or spaces, so it
# cannot reach outside `projects/<project>/topics/...`.
_PROJECT_ID = re.compile(r"(?:[a-z0-9][a-z0-9.-]{0,62}:)?[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


@functools.cache
def validator() -> Any:
    """The compiled validator of the service communication schema (one per process)."""
    schema = load_schema(SCHEMA_NAME)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def is_valid_message(event: Any, attributes: Any) -> bool:
    """Whether `{"event": event, "attributes": attributes}` is valid by the wire schema, checked as the schema reads
    with its parts apart: the event against the definition of its kind only (the schema's `allOf` tries every kind's
    `if`) and the attributes against theirs, each compiled with the schema's references inlined (`jsonschema`
    resolves a `$ref` again at every use: most of the cost). False means invalid, or a schema of another shape, which
    this does not take apart: `validator()` decides then."""
    parts = _message_parts()
    if parts is None or not isinstance(event, dict) or not isinstance(attributes, dict):
        return False
    kinds, attributes_validator = parts
    kind = event.get("kind")
    kind_validator = kinds.get(kind) if isinstance(kind, str) else None
    return kind_validator is not None and kind_validator.is_valid(event) and attributes_validator.is_valid(attributes)


@functools.cache
def _message_parts() -> tuple[dict[Any, Any], Any] | None:
    """Per kind, the validator of an event of that kind, and the attributes' validator, both with the schema's local
    references inlined; None unless the schema has the shape `is_valid_message` relies on: a message is
    `{event, attributes}`, both required; an event is an object with a required `kind` from an enum and an `allOf` of
    one `if kind == K then <definition>` per kind."""
    schema = load_schema(SCHEMA_NAME)
    definitions = schema.get("$defs", {})
    event = definitions.get("event", {})
    shaped = (
        set(schema) <= {"$schema", "$id", "title", "description", "type", "properties", "required", "$defs"}
        and schema.get("type") == "object"
        and schema.get("properties")
        == {"event": {"$ref": "#/$defs/event"}, "attributes": {"$ref": "#/$defs/attributes"}}
        and sorted(schema.get("required", [])) == ["attributes", "event"]
        and set(event) <= {"type", "properties", "required", "allOf", "description"}
        and event.get("type") == "object"
        and event.get("required") == ["kind"]
        and set(event.get("properties", {})) == {"kind"}
        and set(event["properties"]["kind"]) == {"enum"}
    )
    if not shaped:
        return None
    targets = {}
    for branch in event.get("allOf", []):
        condition, then = branch.get("if", {}), branch.get("then", {})
        kind = condition.get("properties", {}).get("kind", {}).get("const")
        reference = then.get("$ref", "")
        expected = {"properties": {"kind": {"const": kind}}, "required": ["kind"]}
        if set(branch) != {"if", "then"} or condition != expected or set(then) != {"$ref"} \
                or not reference.startswith("#/$defs/") or reference[len("#/$defs/"):] not in definitions \
                or kind in targets:
            return None
        targets[kind] = reference[len("#/$defs/"):]
    if "attributes" not in definitions:
        return None
    enum = event["properties"]["kind"]["enum"]
    kinds = {kind: definition_validator(target) for kind, target in targets.items() if kind in enum}
    return kinds, definition_validator("attributes")


@functools.cache
def definition_validator(name: str) -> Any:
    """The compiled validator of the wire schema's definition `name` alone (`question`, `result`, `attributes`...),
    its references inlined (`jsonschema` would resolve each `$ref` again at every use); one per process."""
    definitions = load_schema(SCHEMA_NAME)["$defs"]
    return Draft202012Validator({**_inlined(definitions[name], definitions), "$defs": definitions})


def _inlined(node: Any, definitions: Mapping[str, Any], depth: int = 0) -> Any:
    """`node` with each `{"$ref": "#/$defs/NAME"}` (a reference alone) replaced by the definition, recursively (a
    reference nested deeper than 20 definitions, i.e. a cycle, is left for the validator to resolve)."""
    if isinstance(node, dict):
        reference = node.get("$ref")
        if len(node) == 1 and isinstance(reference, str) and reference.startswith("#/$defs/") and depth < 20:
            name = reference[len("#/$defs/"):]
            if name in definitions:
                return _inlined(definitions[name], definitions, depth + 1)
        return {key: _inlined(value, definitions, depth) for key, value in node.items()}
    if isinstance(node, list):
        return [_inlined(value, definitions, depth) for value in node]
    return node


def is_addressed_to(attributes: Mapping[str, Any], sruid: str, sender_type: str = PARENT) -> bool:
    """Whether a message's (raw or typed) attributes say it is for `sruid` from a sender of `sender_type`."""
    return attributes.get("recipient") == sruid and attributes.get("sender_type") == sender_type


def decode_message_attributes(attributes: Mapping[str, str]) -> dict[str, Any]:
    """Typed attributes, checking that the required ones are present; raises InvalidEvent naming what is wrong."""
    missing = [name for name in REQUIRED_ATTRIBUTES if name not in attributes]
    if missing:
        raise InvalidEvent(f"The message lacks the required attribute(s) {', '.join(map(repr, missing))}.")
    for name in sorted(_PROTOCOL_ATTRIBUTES & attributes.keys()):
        value = attributes[name]
        if isinstance(value, str) and _CONTROL_CHARACTER.search(value):
            # e.g. a trailing newline, which the schema's `$` would let through into names, filters and logs
            raise InvalidEvent(f"Attribute {name!r} is invalid: it contains a control character.")
    try:
        return decode_attributes(attributes)
    except ValueError as error:
        raise InvalidEvent(f"The message has an invalid attribute: {error}.") from None


def decode_event(
    data: bytes | str, *, max_bytes: int = MAX_MESSAGE_BYTES, max_depth: int | None = None
) -> dict[str, Any]:
    """The JSON event in a message's data (plain JSON types), checked to be an object of a known kind.

    With `max_depth`, an event nested deeper than that many levels is an InvalidEvent (see `check_nesting`); without
    it, input too deep for the JSON decoder itself is one too, never a RecursionError.
    """
    if len(data) > max_bytes:
        raise InvalidEvent(f"The message data is {len(data)} bytes, more than the limit of {max_bytes} bytes.")
    try:
        event = json.loads(data)
    except RecursionError:
        raise InvalidEvent(_too_deep(max_depth)) from None
    except (UnicodeDecodeError, ValueError) as error:  # JSONDecodeError, or an integer with too many digits
        raise InvalidEvent(f"The message data is not valid JSON: {_short(str(error))}.") from None
    if max_depth is not None:
        check_nesting(event, max_depth)
    if not isinstance(event, dict):
        raise InvalidEvent(f"The message data must be a JSON object (an event), not {type(event).__name__}.")
    kind = event.get("kind")
    if kind not in KINDS:
        raise InvalidEvent(f"The event's 'kind' is {kind!r}, which is not one of {', '.join(KINDS)}.")
    return event


def nesting_depth(value: Any, limit: int | None = None) -> int:
    """How many levels of objects and arrays `value` nests (a scalar is 0), found without recursion.

    With `limit`, stops as soon as the depth is known to exceed it and returns `limit + 1`.
    """
    deepest = 0
    stack = [(value, 1)] if isinstance(value, (dict, list)) else []
    while stack:
        container, depth = stack.pop()
        deepest = max(deepest, depth)
        if limit is not None and deepest > limit:
            return limit + 1
        items = container.values() if isinstance(container, dict) else container
        stack.extend((item, depth + 1) for item in items if isinstance(item, (dict, list)))
    return deepest


def check_nesting(event: Any, max_depth: int = MAX_NESTING_DEPTH) -> None:
    """Raise InvalidEvent if `event` nests more than `max_depth` levels of objects and arrays."""
    if nesting_depth(event, max_depth) > max_depth:
        raise InvalidEvent(_too_deep(max_depth))


def _too_deep(max_depth: int | None) -> str:
    if max_depth is None:
        return "The message data is nested too deeply for the JSON decoder."
    return f"The message data is nested too deeply: more than the limit of {max_depth} levels of objects and arrays."


def validate_event(event: Mapping[str, Any], attributes: Mapping[str, Any]) -> None:
    """Check an event and its typed attributes against the wire schema; raise InvalidEvent with the JSON path.

    A valid message is recognised by `is_valid_message` (the schema taken apart by kind, four times faster); only an
    invalid one goes through the whole schema, which finds the error to report."""
    if is_valid_message(event, attributes):
        return
    errors = list(validator().iter_errors({"event": event, "attributes": attributes}))
    if not errors:
        return
    error = best_match(errors)
    while error.context:  # anyOf/oneOf: report the closest alternative's problem
        error = best_match(error.context)
    raise InvalidEvent(_describe(error, len(errors)))


def _describe(error: Any, count: int) -> str:
    path = list(error.absolute_path)
    more = f" ({count - 1} more problem(s))" if count > 1 else ""
    if path and path[0] == "attributes":
        if len(path) > 1:
            return f"Attribute {path[1]!r} is invalid: {_short(error.message)}{more}."
        return f"The attributes are invalid: {_short(error.message)}{more}."
    where = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
    return f"The event is invalid at {where}: {_short(error.message)}{more}."


def _short(message: str, limit: int = 300) -> str:
    return message if len(message) <= limit else message[: limit - 3] + "..."


def parse_message(
    data: bytes | str,
    attributes: Mapping[str, str],
    *,
    max_bytes: int = MAX_MESSAGE_BYTES,
    max_depth: int = MAX_NESTING_DEPTH,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """`(event, typed attributes)` of a Pub/Sub message, validated against the wire schema.

    The event keeps plain JSON types (tagged sets/datetimes are left as tagged objects, so values can be checked
    against twine schemas); use `octue_beam.serialisation.loads` on parts when Python types are wanted.
    Raises InvalidEvent with a reason naming the field or attribute, also for an event nested more than `max_depth`
    levels deep and for an SRUID attribute that `messaging.sruid` refuses (e.g. a revision tag over 128 characters).
    """
    typed = decode_message_attributes(attributes)
    event = decode_event(data, max_bytes=max_bytes, max_depth=max_depth)
    validate_event(event, typed)
    for name in SRUID_ATTRIBUTES:
        if name in typed and not is_sruid(typed[name]):
            raise InvalidEvent(f"Attribute {name!r} is invalid: {_short(repr(typed[name]), 100)} is not a valid SRUID.")
    if event.get("kind") == QUESTION:
        check_children(event.get("children"))
    return event, typed


def check_children(children: Any) -> None:
    """Check the IDs in a question's `children` (which replace the service's children for that question) before
    they are used in Pub/Sub names: each `id` a service ID and each `backend.project_id` a project ID."""
    for index, child in enumerate(children or []):
        try:
            split_service_id(child["id"])
        except InvalidServiceID as error:
            raise InvalidEvent(f"The event is invalid at $.event.children[{index}].id: {_short(str(error))}") from None
        project_id = child["backend"].get("project_id")
        if project_id is not None and not (isinstance(project_id, str) and _PROJECT_ID.fullmatch(project_id)):
            raise InvalidEvent(
                f"The event is invalid at $.event.children[{index}].backend.project_id: "
                f"{_short(repr(project_id), 100)} is not a Google Cloud project ID."
            )


def best_effort_question_attributes(raw_attributes: Mapping[str, Any]) -> dict[str, Any] | None:
    """Typed question attributes good enough to answer a broken question with an `exception`, or None.

    Needs a valid `question_uuid` (a UUID), `sender` and `recipient` (SRUIDs); without them the question cannot be
    answered (it is only dead-lettered) and the log says which attribute is missing or invalid. Every other
    attribute is copied only when it is valid for its attribute, and otherwise defaulted as for an originator
    question: nothing a broken message carries reaches the answer's attributes unchecked.
    """

    def valid(name: str, check: Any) -> Any:
        value = raw_attributes.get(name)
        return value if isinstance(value, str) and len(value) <= _MAX_ATTRIBUTE_LENGTH and check(value) else None

    question_uuid, sender = valid("question_uuid", is_uuid), valid("sender", is_sruid)
    recipient = valid("recipient", is_sruid)
    for name, value, what in (
        ("question_uuid", question_uuid, "a UUID"),
        ("sender", sender, "an SRUID"),
        ("recipient", recipient, "an SRUID"),
    ):
        if value is None:
            logger.warning(
                "A broken message for this service cannot be answered: its %r attribute is %s, not %s; it is only "
                "dead-lettered.",
                name,
                "missing" if name not in raw_attributes else _short(repr(raw_attributes[name]), 100),
                what,
            )
            return None
    save_diagnostics = raw_attributes.get("save_diagnostics")
    return {
        "uuid": valid("uuid", is_uuid),
        "datetime": valid("datetime", _DATETIME.fullmatch),
        "question_uuid": question_uuid,
        "parent_question_uuid": valid("parent_question_uuid", is_uuid),
        "originator_question_uuid": valid("originator_question_uuid", is_uuid) or question_uuid,
        "parent": valid("parent", is_sruid) or sender,
        "originator": valid("originator", is_sruid) or sender,
        "sender": sender,
        "sender_type": PARENT,  # a message from a child is never ours to answer (`is_addressed_to`)
        "sender_sdk_version": valid("sender_sdk_version", _SDK_VERSION.fullmatch),
        "recipient": recipient,
        "retry_count": int(valid("retry_count", _RETRY_COUNT.fullmatch) or 0),
        "forward_logs": str(raw_attributes.get("forward_logs", "0"))[:8].strip().lower() in ("1", "true"),
        "save_diagnostics": (
            save_diagnostics if save_diagnostics in SAVE_DIAGNOSTICS_MODES else SAVE_DIAGNOSTICS_ON_CRASH
        ),
    }
