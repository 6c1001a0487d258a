"""Parsing and checking incoming messages: which are questions for this service, and which are broken.

Every message on the services topic may reach the pipeline (the Pub/Sub emulator ignores subscription filters), so
messages not addressed to this SRUID, or sent by a child, are ignored: never answered, never dead-lettered.
Messages addressed to this service that are not valid questions (data not JSON, missing or malformed attributes,
an unknown kind, too big, failing the wire schema) go to the `invalid` output with the reason, to be answered with
an `exception` event when the message says who asked, and to be dead-lettered.
"""

import logging
from typing import Any, Iterator, Mapping

import apache_beam as beam
from apache_beam import pvalue

from octue_beam.messaging.attributes import PARENT

logger = logging.getLogger(__name__)

INVALID = "invalid"


def message_parts(message: Any) -> tuple[bytes, dict[str, str], str | None]:
    """`(data, attributes, message_id)` of a Beam PubsubMessage (or raw bytes)."""
    if isinstance(message, (bytes, str)):
        return (message.encode() if isinstance(message, str) else message), {}, None
    return message.data or b"", dict(message.attributes or {}), getattr(message, "message_id", None)


def addressed_to(attributes: Mapping[str, str], sruid: str) -> bool:
    """Whether a message is for this service: its recipient is `sruid` and its sender (if named) is a parent.

    A message for us without `sender_type` is treated as ours (and rejected as invalid later), so a broken
    question still gets an answer; answers sent to us by our own children (`sender_type` CHILD) are ignored.
    """
    return attributes.get("recipient") == sruid and attributes.get("sender_type", PARENT) == PARENT


def check_message(message: Any, sruid: str, max_message_bytes: int) -> tuple[str, dict]:
    """Classify a message: `("question", question)`, `("ignored", {})` or `("invalid", rejection)`."""
    from octue_beam.exceptions import InvalidEvent
    from octue_beam.messaging.parsing import parse_message

    data, attributes, message_id = message_parts(message)
    if not addressed_to(attributes, sruid):
        return "ignored", {}
    try:
        event, typed = parse_message(data, attributes, max_bytes=max_message_bytes)
        if event.get("kind") != "question":
            raise InvalidEvent(f"A service accepts only 'question' events from a parent, not {event.get('kind')!r} events.")
    except InvalidEvent as error:
        return INVALID, {"data": data, "attributes": attributes, "message_id": message_id, "reason": str(error)}
    except Exception as error:  # noqa: BLE001 - whatever is wrong with the message, nothing crashes
        reason = f"The message could not be parsed: {type(error).__name__}: {error}"
        return INVALID, {"data": data, "attributes": attributes, "message_id": message_id, "reason": reason}
    return "question", {"event": event, "attributes": typed, "message_id": message_id}


class CheckMessage(beam.DoFn):
    """Outputs questions for this service; broken messages for it go to the `invalid` tagged output."""

    def __init__(self, sruid: str, max_message_bytes: int) -> None:
        super().__init__()
        self.sruid = sruid
        self.max_message_bytes = max_message_bytes

    def setup(self) -> None:
        self._ignored = beam.metrics.Metrics.counter("octue_beam", "ignored_messages")
        self._invalid = beam.metrics.Metrics.counter("octue_beam", "invalid_messages")

    def process(self, message: Any) -> Iterator[Any]:
        outcome, value = check_message(message, self.sruid, self.max_message_bytes)
        if outcome == "question":
            yield value
        elif outcome == INVALID:
            self._invalid.inc()
            yield pvalue.TaggedOutput(INVALID, value)
        else:
            self._ignored.inc()
