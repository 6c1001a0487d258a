"""Clients are built for an explicit emulator host, never by rewriting the environment."""

import os
import uuid

import google.pubsub_v1
from google.cloud import pubsub_v1

from octue_beam.messaging.clients import (
    CHANNEL_OPTIONS,
    PubSubClients,
    default_clients,
    new_client,
    resolve_emulator_host,
    use_clients,
)
from octue_beam.messaging.publishing import OrderedBatchPublisher
from octue_beam.messaging.pubsub import ensure_subscription, ensure_topic


def test_a_client_is_built_for_the_emulator_host_given_whatever_the_environment_says(monkeypatch):
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", "localhost:1111")
    before = dict(os.environ)
    for client_class in (pubsub_v1.PublisherClient, pubsub_v1.SubscriberClient, google.pubsub_v1.PublisherClient):
        client = new_client(client_class, "localhost:2222")
        assert client.transport._host == "localhost:2222"
    assert new_client(pubsub_v1.PublisherClient).transport._host == "localhost:1111"
    assert dict(os.environ) == before


def test_the_emulator_host_defaults_to_the_environment(monkeypatch):
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", "localhost:3333")
    assert resolve_emulator_host() == "localhost:3333"
    assert resolve_emulator_host("") == ""
    monkeypatch.delenv("PUBSUB_EMULATOR_HOST")
    assert resolve_emulator_host() == ""


def test_shared_clients_are_one_per_kind_and_emulator_and_replaceable():
    clients = PubSubClients()
    publisher = clients.publisher("localhost:4444")
    assert clients.publisher("localhost:4444") is publisher
    assert clients.publisher("localhost:5555") is not publisher
    assert clients.subscriber("localhost:4444") is not publisher
    previous = use_clients(clients)
    try:
        assert default_clients() is clients
    finally:
        assert use_clients(previous) is clients
    clients.close()
    assert clients.publisher("localhost:4444") is not publisher  # built again after close
    clients.close()


def test_clients_of_an_emulator_send_and_receive_messages_up_to_pubsubs_limit(pubsub_emulator):
    """gRPC's default would refuse to receive a message over 4 MiB; Pub/Sub accepts up to 10 MB."""
    project = os.environ["GOOGLE_CLOUD_PROJECT"]
    suffix = uuid.uuid4().hex[:8]
    topic = ensure_topic(project, f"test.big.{suffix}", emulator_host=pubsub_emulator.host_port)
    subscription = ensure_subscription(
        project, f"test.big.{suffix}", f"test.big.{suffix}", emulator_host=pubsub_emulator.host_port
    )
    data = os.urandom(6_000_000)
    publisher = OrderedBatchPublisher(project, f"test.big.{suffix}", emulator_host=pubsub_emulator.host_port)
    try:
        publisher.publish_raw(data, {"size": "6MB"}, wait=True)
    finally:
        publisher.close()
    subscriber = new_client(pubsub_v1.SubscriberClient, pubsub_emulator.host_port)
    try:
        response = subscriber.pull(subscription=subscription, max_messages=1, timeout=30)
    finally:
        subscriber.close()
    assert topic.endswith(f"test.big.{suffix}")
    assert [message.message.data for message in response.received_messages] == [data]


def test_emulator_channels_ping_no_more_often_than_the_emulator_permits():
    """The emulator (grpc-java) closes a connection that sends keepalive pings more often than every 5 minutes
    (GOAWAY "too_many_pings", seen after about two minutes of a streaming pull with Google's 30 s pings), and the
    messages the stream was receiving stay leased until their acknowledgement deadline: a parent missed its answer."""
    options = dict(CHANNEL_OPTIONS)
    assert options.get("grpc.keepalive_time_ms", 300_000) >= 300_000
    assert options["grpc.max_receive_message_length"] == -1
