"""The local runner's Pub/Sub reads (`octue_beam.pipeline.local_reads`): its subscriber client receives any message
Pub/Sub accepts, and transient faults give empty pulls instead of failing the read bundle (the runner gives up on
a bundle after 4 failed attempts, which ended a service under load)."""

import logging
import os
import uuid

import pytest
from apache_beam.runners.direct import transform_evaluator
from google.api_core import exceptions as api_exceptions

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
        return "response"

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
    assert responses[4] == "response"
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
