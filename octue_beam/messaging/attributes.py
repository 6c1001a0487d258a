"""Pub/Sub message attributes of the wire protocol (see docs/protocol.md).

On the wire every attribute is a string: booleans `"1"`/`"0"`, integers as decimal strings,
datetimes ISO 8601; attributes whose value is None are omitted.
"""

import datetime
import re
from collections.abc import Mapping
from typing import Any

from octue_beam.exceptions import InvalidServiceID
from octue_beam.messaging.sruid import validate_sruid
from octue_beam.uuids import uuid4_string

PARENT = "PARENT"
CHILD = "CHILD"

SAVE_DIAGNOSTICS_OFF = "SAVE_DIAGNOSTICS_OFF"
SAVE_DIAGNOSTICS_ON_CRASH = "SAVE_DIAGNOSTICS_ON_CRASH"
SAVE_DIAGNOSTICS_ON = "SAVE_DIAGNOSTICS_ON"
SAVE_DIAGNOSTICS_MODES = (SAVE_DIAGNOSTICS_OFF, SAVE_DIAGNOSTICS_ON_CRASH, SAVE_DIAGNOSTICS_ON)

#: Attributes on every event.
COMMON_ATTRIBUTES = (
    "uuid",
    "datetime",
    "question_uuid",
    "parent_question_uuid",
    "originator_question_uuid",
    "parent",
    "originator",
    "sender",
    "sender_type",
    "sender_sdk_version",
    "recipient",
    "retry_count",
)

#: Attributes only questions carry.
QUESTION_ATTRIBUTES = ("forward_logs", "save_diagnostics", "cpus", "memory", "ephemeral_storage")

#: Attributes a response copies from its question.
TREE_ATTRIBUTES = (
    "question_uuid",
    "parent_question_uuid",
    "originator_question_uuid",
    "parent",
    "originator",
    "retry_count",
)

#: Attributes that name a service (SRUIDs).
SRUID_ATTRIBUTES = ("parent", "originator", "sender", "recipient")

_BOOLEAN = {"forward_logs"}
_INTEGER = {"retry_count", "cpus"}
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def is_uuid(value: Any) -> bool:
    """Whether `value` is a UUID string in its canonical 8-4-4-4-12 hexadecimal form (nothing before or after)."""
    return isinstance(value, str) and _UUID.fullmatch(value) is not None


def is_sruid(value: Any) -> bool:
    """Whether `value` is a full SRUID (`namespace/name:revision_tag`), checked by `messaging.sruid`."""
    if not isinstance(value, str):
        return False
    try:
        validate_sruid(value)
    except InvalidServiceID:
        return False
    return True


def is_retry_count(value: Any) -> bool:
    """Whether `value` is a retry count: a non-negative integer (not a boolean)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def encode_attributes(attributes: Mapping[str, Any]) -> dict[str, str]:
    """Wire form: every value a string, None values dropped."""
    encoded = {}
    for key, value in attributes.items():
        if value is None:
            continue
        if isinstance(value, bool):
            encoded[key] = "1" if value else "0"
        elif isinstance(value, datetime.datetime):
            encoded[key] = value.isoformat()
        else:
            encoded[key] = str(value)
    return encoded


def decode_attributes(attributes: Mapping[str, str]) -> dict[str, Any]:
    """Typed form of wire attributes: booleans and integers converted, other values kept as strings.

    Raises ValueError naming the attribute when a boolean or integer attribute is malformed.
    """
    decoded: dict[str, Any] = dict(attributes)
    for key in _BOOLEAN & decoded.keys():
        value = str(decoded[key]).strip().lower()
        if value in ("1", "true"):
            decoded[key] = True
        elif value in ("0", "false", ""):
            decoded[key] = False
        else:
            raise ValueError(f"attribute {key!r} must be '1' or '0', not {attributes[key]!r}")
    for key in _INTEGER & decoded.keys():
        try:
            decoded[key] = int(decoded[key])
        except (TypeError, ValueError):
            raise ValueError(f"attribute {key!r} must be an integer, not {attributes[key]!r}") from None
    return decoded


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None).isoformat()


def question_attributes(
    *,
    sender: str,
    recipient: str,
    sender_sdk_version: str,
    question_uuid: str | None = None,
    parent_question_uuid: str | None = None,
    originator_question_uuid: str | None = None,
    originator: str | None = None,
    retry_count: int = 0,
    forward_logs: bool = True,
    save_diagnostics: str = SAVE_DIAGNOSTICS_ON_CRASH,
    cpus: int | None = None,
    memory: str | None = None,
    ephemeral_storage: str | None = None,
) -> dict[str, Any]:
    """Typed attributes of a question from `sender` (the parent) to `recipient` (the child)."""
    if save_diagnostics not in SAVE_DIAGNOSTICS_MODES:
        raise ValueError(f"save_diagnostics must be one of {SAVE_DIAGNOSTICS_MODES}, not {save_diagnostics!r}")
    question_uuid = question_uuid or uuid4_string()
    return {
        "uuid": uuid4_string(),
        "datetime": _now(),
        "question_uuid": question_uuid,
        "parent_question_uuid": parent_question_uuid,
        "originator_question_uuid": originator_question_uuid or question_uuid,
        "parent": sender,
        "originator": originator or sender,
        "sender": sender,
        "sender_type": PARENT,
        "sender_sdk_version": sender_sdk_version,
        "recipient": recipient,
        "retry_count": retry_count,
        "forward_logs": forward_logs,
        "save_diagnostics": save_diagnostics,
        "cpus": cpus,
        "memory": memory,
        "ephemeral_storage": ephemeral_storage,
    }


def response_attributes(question: Mapping[str, Any], sender_sdk_version: str) -> dict[str, Any]:
    """Typed attributes of a response to `question` (typed attributes): tree copied, sender/recipient swapped.

    Only values valid for their attribute are copied (SRUIDs, UUIDs, a retry count): a value that is not raises
    ValueError naming the attribute, so nothing a message carries is echoed into a response unchecked (above all
    not a forged `sender` into the response's `recipient`). Call `refreshed()` on the result before each publish to
    get a new event `uuid` and `datetime`.
    """
    check_copied_attributes(question)
    attributes = {key: question.get(key) for key in TREE_ATTRIBUTES}
    attributes.update(
        sender=question["recipient"],
        recipient=question["sender"],
        sender_type=CHILD,
        sender_sdk_version=sender_sdk_version,
    )
    return refreshed(attributes)


def check_copied_attributes(question: Mapping[str, Any]) -> None:
    """Raise ValueError naming the first attribute a response would copy from `question` that is not valid for it."""
    required = {"question_uuid", "originator_question_uuid", "parent", "originator", "sender", "recipient"}
    for name in ("question_uuid", "parent_question_uuid", "originator_question_uuid"):
        value = question.get(name)
        if not is_uuid(value) and (value is not None or name in required):
            raise ValueError(f"attribute {name!r} must be a UUID, not {_shown(value)}")
    for name in SRUID_ATTRIBUTES:
        if not is_sruid(question.get(name)):
            raise ValueError(f"attribute {name!r} must be an SRUID, not {_shown(question.get(name))}")
    retry_count = question.get("retry_count")
    if retry_count is not None and not is_retry_count(retry_count):
        raise ValueError(f"attribute 'retry_count' must be a non-negative integer, not {_shown(retry_count)}")


def _shown(value: Any, limit: int = 100) -> str:
    shown = repr(value)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def refreshed(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `attributes` with a new event `uuid` and the current `datetime`."""
    return {**attributes, "uuid": uuid4_string(), "datetime": _now()}
