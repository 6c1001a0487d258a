"""Which incoming messages are questions for this service, and which are broken: `check_message`.

Every message on the services topic may reach a service (the Pub/Sub emulator ignores subscription filters), so
messages not addressed to this SRUID, or sent by a child, are ignored: never answered, never dead-lettered.
Messages addressed to this service that are not valid questions (data not JSON, missing or malformed attributes, an
unknown kind, too big, failing the wire schema) become a `Rejection` with the reason, to be answered with an
`exception` when the message says who asked, and to be dead-lettered.
"""

from collections.abc import Mapping
from typing import Any

from octue_beam.answering.values import Question, Rejection
from octue_beam.exceptions import InvalidEvent
from octue_beam.messaging.attributes import PARENT
from octue_beam.messaging.parsing import parse_message


def addressed_to(attributes: Mapping[str, str], sruid: str) -> bool:
    """Whether a message is for this service: its recipient is `sruid` and its sender (if named) is a parent.

    A message for us without `sender_type` is treated as ours (and rejected as invalid later), so a broken
    question still gets an answer; answers sent to us by our own children (`sender_type` CHILD) are ignored.
    """
    return attributes.get("recipient") == sruid and attributes.get("sender_type", PARENT) == PARENT


def check_message(
    data: bytes, attributes: Mapping[str, str], sruid: str, max_message_bytes: int, message_id: str | None = None
) -> Question | Rejection | None:
    """A `Question` for this service, a `Rejection` of a broken message for it, or None (not for this service)."""
    if not addressed_to(attributes, sruid):
        return None
    try:
        event, typed = parse_message(data, attributes, max_bytes=max_message_bytes)
        if event.get("kind") != "question":
            raise InvalidEvent(
                f"A service accepts only 'question' events from a parent, not {event.get('kind')!r} events."
            )
    except InvalidEvent as error:
        return Rejection(data, dict(attributes), str(error), message_id)
    except Exception as error:  # noqa: BLE001 - whatever is wrong with the message, nothing crashes
        reason = f"The message could not be parsed: {type(error).__name__}: {error}"
        return Rejection(data, dict(attributes), reason, message_id)
    return Question(event, typed, message_id)


def message_parts(message: Any) -> tuple[bytes, dict[str, str], str | None]:
    """`(data, attributes, message_id)` of a Pub/Sub message object (Beam's or the client's) or raw bytes."""
    if isinstance(message, (bytes, str)):
        return (message.encode() if isinstance(message, str) else message), {}, None
    return message.data or b"", dict(message.attributes or {}), getattr(message, "message_id", None)
