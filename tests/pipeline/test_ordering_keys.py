"""Emulator threads stay bounded: a service's events use a bounded set of ordering keys (issue 11, item 5).

Google's Pub/Sub emulator keeps threads for every (ordered subscription, ordering key) it has seen, for ever. With
`ordering_key = question_uuid` it grew past 13,000 threads in a load test. A service now publishes each question's
events on one of `ORDERING_KEYS` keys derived from the question UUID (a question's events still share one key and
keep their order). This test runs its OWN emulator (so that only its own work is counted), serves a service on it,
asks two bursts of questions, reads the keys on the services topic with a raw subscriber, and counts the emulator's
Java threads (/proc/<pid>/status) after each burst.
"""

import collections
import os
import uuid

import pytest
from google.cloud import pubsub_v1

from octue_beam import ask_multiple
from octue_beam.asking.session import AskingSession, use_session
from octue_beam.emulators.pubsub import PubSubEmulator
from octue_beam.messaging.clients import new_client
from octue_beam.messaging.publishing import ORDERING_KEYS
from octue_beam.messaging.pubsub import ensure_subscription
from octue_beam.testing import LocalService
from tests.support.serving import behaviours_service

PROJECT = "octue-beam-keys-test"
QUESTIONS_PER_BURST = 120
#: Threads the emulator may add in the second burst: a few per ordering key and subscription at most (three ordered
#: subscriptions read the topic here) plus its own pools; a key per question would add hundreds.
SECOND_BURST_THREADS = 3 * 3 * ORDERING_KEYS


def emulator_threads(emulator: PubSubEmulator) -> int:
    """Threads of every process of the emulator (its launcher and its Java process: one process group)."""
    group = os.getpgid(emulator._process.pid)
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.getpgid(int(pid)) != group:
                continue
            with open(f"/proc/{pid}/status") as status:
                total += next(int(line.split()[1]) for line in status if line.startswith("Threads:"))
        except (OSError, StopIteration):  # the process ended meanwhile
            continue
    return total


@pytest.fixture
def served(monkeypatch):
    """(emulator, service, asking session) on an emulator of this test's own."""
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", PROJECT)
    emulator = PubSubEmulator()
    emulator.start()
    session = AskingSession()
    previous = use_session(session)
    service = None
    try:
        service = behaviours_service("--heartbeat_interval", "5").start()
        yield emulator, service, session
    finally:
        if service is not None:
            service.stop()
        use_session(previous)
        session.close()
        emulator.stop()


def read_keys(emulator: PubSubEmulator, subscription: str, wanted: int) -> dict[str, set[str]]:
    """Ordering keys of the services' events (sender type CHILD) on the topic, by question UUID."""
    subscriber = new_client(pubsub_v1.SubscriberClient, emulator.host_port)
    keys: dict[str, set[str]] = collections.defaultdict(set)
    try:
        for _ in range(200):
            response = subscriber.pull(subscription=subscription, max_messages=1000, timeout=30)
            if response.received_messages:
                subscriber.acknowledge(
                    subscription=subscription, ack_ids=[m.ack_id for m in response.received_messages]
                )
            for received in response.received_messages:
                attributes = received.message.attributes
                if attributes.get("sender_type") == "CHILD":
                    keys[attributes["question_uuid"]].add(received.message.ordering_key)
            if len(keys) >= wanted:
                break
    finally:
        subscriber.close()
    return keys


def burst(service: LocalService) -> list[str]:
    questions = [
        {"service_id": service.sruid, "input_values": {"action": "echo", "value": n}, "topic_name": service.topic_name,
         "timeout": 120}
        for n in range(QUESTIONS_PER_BURST)
    ]
    answers = ask_multiple(questions)
    assert [answer["output_values"]["value"] for answer, _ in answers] == list(range(QUESTIONS_PER_BURST))
    return [question_uuid for _, question_uuid in answers]


def test_a_services_events_use_a_bounded_set_of_ordering_keys_and_the_emulators_threads_stay_bounded(served):
    emulator, service, _ = served
    reader = ensure_subscription(
        PROJECT, f"test.keys-reader.{uuid.uuid4().hex[:8]}", service.topic_name, emulator_host=emulator.host_port
    )
    started = emulator_threads(emulator)
    first = burst(service)
    after_first = emulator_threads(emulator)
    second = burst(service)
    after_second = emulator_threads(emulator)
    print(f"emulator threads: {started} at start, {after_first} after burst 1, {after_second} after burst 2")

    assert after_second - after_first <= SECOND_BURST_THREADS, (started, after_first, after_second)
    keys = read_keys(emulator, reader, len(first) + len(second))
    assert set(keys) >= set(first) | set(second)
    assert all(len(question_keys) == 1 for question_keys in keys.values())  # one key per question: order kept
    assert len(set().union(*keys.values())) <= ORDERING_KEYS
