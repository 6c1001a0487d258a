"""Parsing and checking incoming Pub/Sub messages against the wire protocol.

`parse_message` turns a message's bytes and string attributes into `(event, typed attributes)` or raises
InvalidEvent with a reason that names the field or attribute. The vendored schema
`octue_beam/schemas/service_communication.json` is compiled once per process.

Who a message is for is decided before parsing: a reader ignores (acks, never answers) messages whose
`recipient`/`sender_type` are not its own (`is_addressed_to`); the Pub/Sub emulator does not apply filters.
A question addressed to us but broken gets an `exception` answer when `best_effort_question_attributes` can tell
who asked.
"""

import functools
import json
import re
from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from octue_beam.exceptions import InvalidEvent
from octue_beam.messaging.attributes import (
    COMMON_ATTRIBUTES,
    PARENT,
    SAVE_DIAGNOSTICS_MODES,
    SAVE_DIAGNOSTICS_ON_CRASH,
    decode_attributes,
)
from octue_beam.messaging.events import KINDS
from octue_beam.schemas import load_schema

MAX_MESSAGE_BYTES = 10_000_000  # Pub/Sub's limit on a message's size
SCHEMA_NAME = "service_communication"

#: Attributes every event must carry (parent_question_uuid is omitted on originator questions).
REQUIRED_ATTRIBUTES = tuple(name for name in COMMON_ATTRIBUTES if name != "parent_question_uuid")

_MAX_ATTRIBUTE_LENGTH = 1024  # Pub/Sub's limit on attribute values


@functools.cache
def validator() -> Any:
    """The compiled validator of the service communication schema (one per process)."""
    schema = load_schema(SCHEMA_NAME)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def is_addressed_to(attributes: Mapping[str, Any], sruid: str, sender_type: str = PARENT) -> bool:
    """Whether a message's (raw or typed) attributes say it is for `sruid` from a sender of `sender_type`."""
    return attributes.get("recipient") == sruid and attributes.get("sender_type") == sender_type


def decode_message_attributes(attributes: Mapping[str, str]) -> dict[str, Any]:
    """Typed attributes, checking that the required ones are present; raises InvalidEvent naming what is wrong."""
    missing = [name for name in REQUIRED_ATTRIBUTES if name not in attributes]
    if missing:
        raise InvalidEvent(f"The message lacks the required attribute(s) {', '.join(map(repr, missing))}.")
    try:
        return decode_attributes(attributes)
    except ValueError as error:
        raise InvalidEvent(f"The message has an invalid attribute: {error}.") from None


def decode_event(data: bytes | str, *, max_bytes: int = MAX_MESSAGE_BYTES) -> dict[str, Any]:
    """The JSON event in a message's data (plain JSON types), checked to be an object of a known kind."""
    if len(data) > max_bytes:
        raise InvalidEvent(f"The message data is {len(data)} bytes, more than the limit of {max_bytes} bytes.")
    try:
        event = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidEvent(f"The message data is not valid JSON: {error}.") from None
    if not isinstance(event, dict):
        raise InvalidEvent(f"The message data must be a JSON object (an event), not {type(event).__name__}.")
    kind = event.get("kind")
    if kind not in KINDS:
        raise InvalidEvent(f"The event's 'kind' is {kind!r}, which is not one of {', '.join(KINDS)}.")
    return event


def validate_event(event: Mapping[str, Any], attributes: Mapping[str, Any]) -> None:
    """Check an event and its typed attributes against the wire schema; raise InvalidEvent with the JSON path."""
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
) -> tuple[dict[str, Any], dict[str, Any]]:
    """`(event, typed attributes)` of a Pub/Sub message, validated against the wire schema.

    The event keeps plain JSON types (tagged sets/datetimes are left as tagged objects, so values can be checked
    against twine schemas); use `octue_beam.serialisation.loads` on parts when Python types are wanted.
    Raises InvalidEvent with a reason naming the field or attribute.
    """
    typed = decode_message_attributes(attributes)
    event = decode_event(data, max_bytes=max_bytes)
    validate_event(event, typed)
    return event, typed


_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def best_effort_question_attributes(raw_attributes: Mapping[str, Any]) -> dict[str, Any] | None:
    """Typed question attributes good enough to answer a broken question with an `exception`, or None.

    Needs `question_uuid`, `sender` and `recipient`; other tree attributes are defaulted as for an originator
    question, and malformed optional ones are dropped or defaulted rather than raising.
    """
    def text(name: str) -> str | None:
        value = raw_attributes.get(name)
        if isinstance(value, str) and value and len(value) <= _MAX_ATTRIBUTE_LENGTH:
            return value
        return None

    question_uuid, sender, recipient = text("question_uuid"), text("sender"), text("recipient")
    if not (question_uuid and sender and recipient):
        return None
    try:
        retry_count = max(0, int(raw_attributes.get("retry_count", 0)))
    except (TypeError, ValueError):
        retry_count = 0
    forward_logs = str(raw_attributes.get("forward_logs", "0")).strip().lower() in ("1", "true")
    save_diagnostics = text("save_diagnostics")
    parent_question_uuid = text("parent_question_uuid")
    return {
        "uuid": text("uuid"),
        "datetime": text("datetime"),
        "question_uuid": question_uuid,
        "parent_question_uuid": (
            parent_question_uuid if parent_question_uuid and _UUID.match(parent_question_uuid) else None
        ),
        "originator_question_uuid": text("originator_question_uuid") or question_uuid,
        "parent": text("parent") or sender,
        "originator": text("originator") or sender,
        "sender": sender,
        "sender_type": text("sender_type") or PARENT,
        "sender_sdk_version": text("sender_sdk_version"),
        "recipient": recipient,
        "retry_count": retry_count,
        "forward_logs": forward_logs,
        "save_diagnostics": (
            save_diagnostics if save_diagnostics in SAVE_DIAGNOSTICS_MODES else SAVE_DIAGNOSTICS_ON_CRASH
        ),
    }
