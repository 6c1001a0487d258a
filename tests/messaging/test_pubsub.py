import json
import uuid

import pytest

from octue_beam.messaging import attributes as wire_attributes
from octue_beam.messaging import events, pubsub
from octue_beam.messaging.parsing import parse_message
from octue_beam.messaging.publishing import OrderedBatchPublisher, ordering_key


@pytest.fixture
def project(pubsub_emulator):
    return "octue-beam-test"


@pytest.fixture
def topic_name():
    return f"test-topic-{uuid.uuid4().hex[:8]}"


def _pull(project, subscription, count, timeout=20):
    """Pull until `count` messages arrived; ack them."""
    import time

    client = pubsub.subscriber_client()
    path = pubsub.subscription_path(project, subscription)
    received = []
    deadline = time.monotonic() + timeout
    while len(received) < count and time.monotonic() < deadline:
        response = client.pull(subscription=path, max_messages=50, timeout=5)
        if response.received_messages:
            client.acknowledge(subscription=path, ack_ids=[m.ack_id for m in response.received_messages])
        received.extend(m.message for m in response.received_messages)
    return received


def test_names_and_filters(monkeypatch):
    monkeypatch.delenv("TWINED_SERVICES_TOPIC_NAME", raising=False)
    assert pubsub.services_topic_name() == "main.octue.twined.services"
    assert pubsub.topic_path("proj") == "projects/proj/topics/main.octue.twined.services"
    monkeypatch.setenv("TWINED_SERVICES_TOPIC_NAME", "dev.octue.twined.services")
    assert pubsub.topic_path("proj") == "projects/proj/topics/dev.octue.twined.services"
    assert pubsub.topic_path("proj", "other") == "projects/proj/topics/other"
    assert pubsub.service_subscription_name("my-org/my-svc:1.2.0") == "my-org.my-svc.1-2-0"
    assert pubsub.answer_subscription_name("my-org/parent:0.1", "abc") == "my-org.parent.0-1.answers.abc"
    assert pubsub.service_subscription_filter("my-org/my-svc:1.2.0") == (
        'attributes.recipient = "my-org/my-svc:1.2.0" AND attributes.sender_type = "PARENT"'
    )
    assert pubsub.answer_subscription_filter("my-org/parent:0.1", "q-1") == (
        'attributes.recipient = "my-org/parent:0.1" AND attributes.question_uuid = "q-1" '
        'AND attributes.sender_type = "CHILD"'
    )
    assert pubsub.answer_subscription_filter("my-org/parent:0.1") == (
        'attributes.recipient = "my-org/parent:0.1" AND attributes.sender_type = "CHILD"'
    )


def test_topics_and_subscriptions_are_idempotent(project, topic_name):
    assert not pubsub.topic_exists(project, topic_name)
    assert pubsub.ensure_topic(project, topic_name) == f"projects/{project}/topics/{topic_name}"
    pubsub.ensure_topic(project, topic_name)
    assert pubsub.topic_exists(project, topic_name)

    name = pubsub.service_subscription_name("my-org/my-svc:1.2.0") + "." + topic_name
    filter_ = pubsub.service_subscription_filter("my-org/my-svc:1.2.0")
    path = pubsub.ensure_subscription(project, name, topic_name, filter=filter_)
    assert pubsub.ensure_subscription(project, name, topic_name, filter=filter_) == path
    subscription = pubsub.subscriber_client().get_subscription(subscription=path)
    assert subscription.enable_message_ordering
    assert subscription.ack_deadline_seconds == 600
    assert subscription.filter == filter_
    assert subscription.topic == pubsub.topic_path(project, topic_name)

    pubsub.delete_subscription(project, name)
    assert not pubsub.subscription_exists(project, name)
    pubsub.delete_subscription(project, name)  # a missing one is fine
    pubsub.delete_topic(project, topic_name)
    assert not pubsub.topic_exists(project, topic_name)


def test_ordered_batch_publisher_publishes_valid_ordered_events(project, topic_name):
    pubsub.ensure_subscription(project, topic_name + "-all", topic_name)
    question = wire_attributes.question_attributes(
        sender="local/local-test:local", recipient="my-org/my-svc:1.2.0", sender_sdk_version="0.1.0"
    )
    response = wire_attributes.response_attributes(question, "0.1.0")
    publisher = OrderedBatchPublisher(project, topic_name)
    sent = [events.delivery_acknowledgement(), events.heartbeat(), events.monitor_message({"n": 1}),
            events.result(output_values={"labels": {"a"}})]
    for event in sent[:-1]:
        publisher.publish(event, response)
    publisher.publish(sent[-1], response, wait=True)

    messages = _pull(project, topic_name + "-all", len(sent))
    assert [json.loads(m.data)["kind"] for m in messages] == [e["kind"] for e in sent]
    assert {m.ordering_key for m in messages} == {ordering_key(question["question_uuid"])}
    uuids = set()
    for message in messages:
        event, attributes = parse_message(message.data, dict(message.attributes))
        assert attributes["sender_type"] == "CHILD"
        assert attributes["recipient"] == "local/local-test:local"
        uuids.add(attributes["uuid"])
    assert len(uuids) == len(sent)  # each event has a new uuid
    assert json.loads(messages[-1].data)["output_values"] == {"labels": {"_type": "set", "items": ["a"]}}
    publisher.close()


def test_publish_raw_sends_bytes_and_attributes_as_given(project, topic_name):
    pubsub.ensure_subscription(project, topic_name + "-raw", topic_name)
    publisher = OrderedBatchPublisher(project, topic_name)
    publisher.publish_raw(b"not json", {"recipient": "x"}, wait=True)
    [message] = _pull(project, topic_name + "-raw", 1)
    assert message.data == b"not json"
    assert dict(message.attributes) == {"recipient": "x"}


def test_a_subscription_left_on_another_topic_is_replaced_on_the_emulator(pubsub_emulator):
    import uuid

    from octue_beam.messaging import pubsub

    project = "octue-beam-tests"
    name = f"moving-subscription-{uuid.uuid4().hex[:8]}"
    first = pubsub.ensure_subscription(project, name, f"first-topic-{uuid.uuid4().hex[:6]}")
    second_topic = f"second-topic-{uuid.uuid4().hex[:6]}"
    assert pubsub.ensure_subscription(project, name, second_topic) == first
    subscription = pubsub.subscriber_client().get_subscription(request={"subscription": first})
    assert subscription.topic == pubsub.topic_path(project, second_topic)
