"""Pub/Sub message attributes of the wire protocol (see docs/protocol.md).

On the wire every attribute is a string: booleans `"1"`/`"0"`, integers as decimal strings,
datetimes ISO 8601; attributes whose value is None are omitted.
"""

import datetime
import uuid as uuid_module
from collections.abc import Mapping
from typing import Any

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

_BOOLEAN = {"forward_logs"}
_INTEGER = {"retry_count", "cpus"}


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
    question_uuid = question_uuid or str(uuid_module.uuid4())
    return {
        "uuid": str(uuid_module.uuid4()),
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

    Call `refreshed()` on the result before each publish to get a new event `uuid` and `datetime`.
    """
    attributes = {key: question.get(key) for key in TREE_ATTRIBUTES}
    attributes.update(
        sender=question["recipient"],
        recipient=question["sender"],
        sender_type=CHILD,
        sender_sdk_version=sender_sdk_version,
    )
    return refreshed(attributes)


def refreshed(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `attributes` with a new event `uuid` and the current `datetime`."""
    return {**attributes, "uuid": str(uuid_module.uuid4()), "datetime": _now()}
