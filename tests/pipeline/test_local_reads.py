"""The local runner's Pub/Sub reads (`octue_beam.pipeline.local_reads`): its subscriber client receives any message
Pub/Sub accepts, and transient faults give empty pulls instead of failing the read bundle (the runner gives up on
a bundle after 4 failed attempts, which ended a service under load)."""

import logging
import os
import uuid

import pytest
from apache_beam.runners.direct import transform_evaluator
from google.api_core import exceptions as api_exceptions
from google.cloud import pubsub_v1

from octue_beam.messaging.publishing import OrderedBatchPublisher
from octue_beam.messaging.pubsub import delete_subscription, delete_topic, ensure_subscription
from octue_beam.pipeline import local_reads


class ReadTransform:
    """Stands for the applied transform Beam keys its subscriber clients by."""


def test_the_local_runners_subscriber_receives_messages_over_grpcs_default_4_mib(pubsub_emulator):
    assert local_reads.set_local_pull_size(100)
    project = os.environ["GOOGLE_CLOUD_PROJECT"]
    name = f"test.local-reads.{uuid.uuid4().hex[:8]}"
    subscription = ensure_subscription(project, name, name)
    publisher = OrderedBatchPublisher(project, name)
    data = os.urandom(6_000_000)
    try:
        publisher.publish_raw(data, {"n": "0"}, wait=True)
        publisher.publish_raw(b"small", {"n": "1"}, wait=True)
    finally:
        publisher.close()
    transform = ReadTransform()
    client = transform_evaluator._PubSubReadEvaluator._get_subscriber_client(transform)
    try:
        received = []
        for _ in range(10):
            response = client.pull(subscription=subscription, max_messages=10, timeout=30)
            received += [message.message.data for message in response.received_messages]
            if response.received_messages:
                client.acknowledge(subscription=subscription, ack_ids=[m.ack_id for m in response.received_messages])
            if len(received) == 2:
                break
        assert sorted(received, key=len) == [b"small", data]
    finally:
        del client, transform  # Beam closes its client when the transform is dropped
        delete_subscription(project, name)
        delete_topic(project, name)


class FlakyClient:
    def __init__(self, failures: list) -> None:
        self.failures = failures
        self.pulls: list[dict] = []
        self.acknowledged: list = []

    def pull(self, **kwargs):
        self.pulls.append(kwargs)
        if self.failures:
            raise self.failures.pop(0)
        return pubsub_v1.types.PullResponse(received_messages=[{"ack_id": "answered"}])

    def acknowledge(self, **kwargs):
        if self.failures:
            raise self.failures.pop(0)
        self.acknowledged.append(kwargs["ack_ids"])


def test_transient_pull_faults_give_empty_pulls_logged_once_and_acknowledgements_are_retried(monkeypatch, caplog):
    monkeypatch.setattr(local_reads, "MAX_BACKOFF_SECONDS", 0.01)
    faults = [api_exceptions.DeadlineExceeded("slow"), api_exceptions.ServiceUnavailable("restarting")] * 2
    client = FlakyClient(list(faults))
    pulls = local_reads._LocalPulls(client)
    with caplog.at_level(logging.WARNING, logger=local_reads.__name__):
        responses = [pulls.pull(subscription="s", max_messages=10, timeout=30) for _ in range(5)]
    assert [len(response.received_messages) for response in responses[:4]] == [0, 0, 0, 0]
    assert [message.ack_id for message in responses[4].received_messages] == ["answered"]
    assert all(pull["retry"] is None and pull["timeout"] == 30 for pull in client.pulls)
    messages = [record.getMessage() for record in caplog.records]
    assert len([message for message in messages if "retrying with backoff" in message]) == 1
    assert len([message for message in messages if "again after 4 failed pull(s)" in message]) == 1

    client.failures = [api_exceptions.DeadlineExceeded("slow")] * 2
    pulls.acknowledge(subscription="s", ack_ids=["a"])
    assert client.acknowledged == [["a"]]


def test_a_lost_subscription_still_fails_the_read():
    pulls = local_reads._LocalPulls(FlakyClient([api_exceptions.NotFound("Subscription does not exist")]))
    with pytest.raises(api_exceptions.NotFound):  # for whoever runs the pipeline to handle
        pulls.pull(subscription="s", max_messages=10, timeout=30)


class VirtualClock:
    """Stands for the module's `time`: sleeping advances the clock at once."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


class StreamingClient:
    """Each pull returns the next count of messages, taking `seconds` of the clock."""

    def __init__(self, clock: VirtualClock, counts: list[int], seconds: float = 0.005) -> None:
        self.clock, self.counts, self.seconds = clock, counts, seconds
        self.started: list[float] = []

    def pull(self, **kwargs):
        self.started.append(round(self.clock.now, 6))
        self.clock.now += self.seconds
        messages = [{"ack_id": str(n)} for n in range(self.counts.pop(0))]
        return pubsub_v1.types.PullResponse(received_messages=messages)


def test_while_messages_stream_in_pulls_are_spaced_so_that_they_gather_into_bigger_bundles(monkeypatch):
    clock = VirtualClock()
    monkeypatch.setattr(local_reads, "time", clock)
    interval = local_reads.STREAMING_PULL_INTERVAL_SECONDS
    streaming = local_reads.STREAMING_PULL_MESSAGES
    client = StreamingClient(clock, [streaming, streaming + 20, 1, 1, 0, streaming, 0, 2])
    pulls = local_reads._LocalPulls(client)
    for _ in range(8):
        pulls.pull(subscription="s", max_messages=10, timeout=30)
    start = 1000.0
    # A stream: each pull starts `interval` after the previous one. A pull with fewer messages (a question on its
    # own and its events) or none ends the stream: the next pull goes at once.
    assert client.started == [
        start,
        round(start + interval, 6),
        round(start + 2 * interval, 6),
        round(start + 2 * interval + 0.005, 6),
        round(start + 2 * interval + 0.010, 6),
        round(start + 2 * interval + 0.015, 6),
        round(start + 3 * interval + 0.015, 6),
        round(start + 3 * interval + 0.020, 6),
    ]
    assert len(clock.sleeps) == 3
