"""The body Pub/Sub POSTs to a push endpoint: `parse_envelope` turns it into a `PushedMessage` or says what is wrong.

A push subscription (wrapped, the default) sends each message as JSON:

    {"message": {"data": "<base64>", "attributes": {"name": "value", ...}, "messageId": "...",
                 "publishTime": "...", "orderingKey": "..."},
     "subscription": "projects/<p>/subscriptions/<s>", "deliveryAttempt": 3}

(the emulator also repeats `message_id` and `publish_time`; `data` is absent for a message with attributes only;
`deliveryAttempt` only comes with a dead-letter policy). Unwrapped push (`no_wrapper`, the data as the body and
the attributes as headers) is not supported: its body is refused as not an envelope.
"""

import base64
import binascii
import dataclasses
import json
from collections.abc import Mapping

#: The largest body accepted: Pub/Sub's 10 MB message limit, base64-encoded (4/3), plus the envelope around it.
MAX_ENVELOPE_BYTES = 16 * 1024 * 1024


class InvalidEnvelope(ValueError):
    """The body of a push request is not a Pub/Sub push envelope (the message says why, in one line)."""


@dataclasses.dataclass(frozen=True)
class PushedMessage:
    """One Pub/Sub message as a push subscription delivered it."""

    data: bytes
    attributes: Mapping[str, str]
    message_id: str | None = None
    subscription: str | None = None
    publish_time: str | None = None
    delivery_attempt: int | None = None


def parse_envelope(body: bytes) -> PushedMessage:
    """The message in a push request's body; raises `InvalidEnvelope` naming what is wrong (never anything else)."""
    try:
        envelope = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidEnvelope(f"The body is not JSON ({error}): expected a Pub/Sub push envelope.") from None
    if not isinstance(envelope, dict):
        raise InvalidEnvelope(
            f"The body is a JSON {type(envelope).__name__}, not an object: expected a Pub/Sub push envelope "
            '{"message": {...}, "subscription": "..."}.'
        )
    message = envelope.get("message")
    if not isinstance(message, dict):
        raise InvalidEnvelope(
            'The envelope has no "message" object: expected a Pub/Sub push envelope {"message": {"data", '
            '"attributes", "messageId"}, "subscription"}.'
        )
    return PushedMessage(
        data=_data(message.get("data")),
        attributes=_attributes(message.get("attributes")),
        message_id=_optional_string(message, "messageId", "message_id"),
        subscription=_optional_string(envelope, "subscription"),
        publish_time=_optional_string(message, "publishTime", "publish_time"),
        delivery_attempt=_delivery_attempt(envelope.get("deliveryAttempt")),
    )


def _data(value: object) -> bytes:
    if value is None:
        return b""
    if not isinstance(value, str):
        raise InvalidEnvelope(f'"message.data" is a {type(value).__name__}, not a base64 string.')
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as error:
        raise InvalidEnvelope(f'"message.data" is not valid base64: {error}.') from None


def _attributes(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidEnvelope(f'"message.attributes" is a {type(value).__name__}, not an object of strings.')
    for name, item in value.items():
        if not isinstance(item, str):
            raise InvalidEnvelope(
                f'"message.attributes" must map names to strings; {name!r} is a {type(item).__name__}.'
            )
    return dict(value)


def _optional_string(container: Mapping, *keys: str) -> str | None:
    for key in keys:
        value = container.get(key)
        if value is not None:
            if not isinstance(value, str):
                raise InvalidEnvelope(f'"{key}" is a {type(value).__name__}, not a string.')
            return value
    return None


def _delivery_attempt(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidEnvelope(f'"deliveryAttempt" is a {type(value).__name__}, not a whole number.')
    return value
