"""Push envelopes as Pub/Sub and its emulator write them, parsed into the message they carry."""

import json

import pytest

from octue_beam.push.envelopes import InvalidEnvelope, PushedMessage, parse_envelope
from tests.push.support import envelope


def test_the_emulators_envelope_gives_the_message_its_data_attributes_and_ids():
    body = envelope(b'{"kind": "question"}', {"recipient": "a/b:c", "retry_count": "0"}, message_id="42")
    assert parse_envelope(body) == PushedMessage(
        data=b'{"kind": "question"}',
        attributes={"recipient": "a/b:c", "retry_count": "0"},
        message_id="42",
        subscription="projects/test/subscriptions/push",
        publish_time="2026-11-30T08:10:19.284Z",
    )


def test_pubsubs_own_envelope_with_a_delivery_attempt_and_no_data():
    body = json.dumps({
        "message": {"attributes": {"a": "1"}, "messageId": "9", "publishTime": "2026-01-01T00:00:00Z",
                    "orderingKey": "octue-beam.03"},
        "subscription": "projects/p/subscriptions/s",
        "deliveryAttempt": 3,
    }).encode()
    message = parse_envelope(body)
    assert message.data == b""
    assert message.attributes == {"a": "1"}
    assert (message.message_id, message.delivery_attempt) == ("9", 3)


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (b"\xff\xfe", "not JSON"),
        (b'"a string"', "JSON str, not an object"),
        (b'{"message": "text"}', '"message" object'),
        (b'{"message": {"data": 12}}', '"message.data" is a int'),
        (b'{"message": {"messageId": 7}}', '"messageId" is a int'),
        (b'{"message": {}, "deliveryAttempt": "3"}', '"deliveryAttempt" is a str'),
    ],
)
def test_anything_else_is_an_invalid_envelope_saying_what_is_wrong(body, named):
    with pytest.raises(InvalidEnvelope) as raised:
        parse_envelope(body)
    assert named in str(raised.value)
    assert "\n" not in str(raised.value)
