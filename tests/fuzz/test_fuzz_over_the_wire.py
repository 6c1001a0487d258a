"""The nastiest malformed messages published raw to a served service (`run` in a subprocess, on the Pub/Sub
emulator): each one addressed to the service and saying who asked gets exactly one `exception` (or its result),
the rest get nothing and broken ones are dead-lettered, nothing is ever sent to anyone but the real parent, and
the service answers a valid question afterwards. The in-process fuzz test (test_fuzz_questions.py) covers many
more messages; this proves the same over the wire.
"""

import collections
import json
import os
import threading
import time
import uuid

import pytest
from google.cloud import pubsub_v1

from octue_beam.messaging.publishing import OrderedBatchPublisher
from octue_beam.messaging.pubsub import delete_subscription, ensure_subscription
from octue_beam.testing import LocalService
from tests.fuzz.messages import (
    PARENT,
    SRUID,
    addressed_to_service,
    nastiest_messages,
    question,
    says_who_asked,
    write_fuzz_service,
)
from tests.support.paths import REPOSITORY

DEAD_LETTER_TOPIC = f"test.fuzz-dead-letters.{uuid.uuid4().hex[:8]}"
TIMEOUT = 120


class Responses:
    """Every message on a topic that says it is a response (sender_type CHILD), whoever it is addressed to, except
    those the test published itself (`published`: their message IDs)."""

    def __init__(self, project: str, topic_name: str, name: str) -> None:
        self.project, self.name = project, name
        path = ensure_subscription(project, name, topic_name, enable_message_ordering=False)
        self.received: list[tuple[str, dict, dict[str, str]]] = []
        self.published: set[str] = set()
        self._condition = threading.Condition(threading.RLock())
        self._subscriber = pubsub_v1.SubscriberClient()
        self._future = self._subscriber.subscribe(path, self._receive)

    def _receive(self, message) -> None:
        message.ack()
        attributes = dict(message.attributes)
        if attributes.get("sender_type") != "CHILD":
            return
        with self._condition:
            self.received.append((message.message_id, json.loads(message.data), attributes))
            self._condition.notify_all()

    @property
    def messages(self) -> list[tuple[dict, dict[str, str]]]:
        with self._condition:
            return [(event, attributes) for id_, event, attributes in self.received if id_ not in self.published]

    def finals(self) -> dict[str, list[dict]]:
        found = collections.defaultdict(list)
        for event, attributes in self.messages:
            if event["kind"] in ("result", "exception"):
                found[attributes.get("question_uuid")].append(event)
        return found

    def wait_for_finals(self, question_uuids: set[str], timeout: float = TIMEOUT) -> dict[str, list[dict]]:
        deadline = time.monotonic() + timeout
        with self._condition:
            while not question_uuids <= self.finals().keys():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"No answer to {question_uuids - self.finals().keys()} within {timeout} s.")
                self._condition.wait(remaining)
        return self.finals()

    def close(self) -> None:
        self._future.cancel()
        try:
            self._future.result(timeout=10)
        except Exception:  # noqa: BLE001 - cancelled
            pass
        self._subscriber.close()
        delete_subscription(self.project, self.name)


def pull_dead_letters(project: str, subscription: str, question_uuids: set[str], timeout: float = TIMEOUT) -> dict:
    """`{question_uuid: reason}` of the dead letters of `question_uuids` (waits until all arrived)."""
    subscriber = pubsub_v1.SubscriberClient()
    path = subscriber.subscription_path(project, subscription)
    letters: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    try:
        while not question_uuids <= letters.keys():
            if time.monotonic() > deadline:
                raise TimeoutError(f"No dead letter for {question_uuids - letters.keys()} within {timeout} s.")
            response = subscriber.pull(subscription=path, max_messages=50, timeout=10)
            if response.received_messages:
                subscriber.acknowledge(subscription=path, ack_ids=[m.ack_id for m in response.received_messages])
            for received in response.received_messages:
                attributes = dict(received.message.attributes)
                letters[attributes.get("question_uuid", "")] = attributes.get("octue_beam_rejection_reason", "")
        return letters
    finally:
        subscriber.close()


@pytest.fixture(scope="module")
def served(pubsub_emulator, tmp_path_factory):
    """The behaviours service (`write_fuzz_service`) served with a dead-letter topic; a collector of every response
    on its topic; a raw publisher."""
    project = os.environ["GOOGLE_CLOUD_PROJECT"]
    service_dir = write_fuzz_service(tmp_path_factory.mktemp("fuzz-served") / "behaviours")
    dead_letters = ensure_subscription(project, DEAD_LETTER_TOPIC + ".reader", DEAD_LETTER_TOPIC,
                                       enable_message_ordering=False).split("/")[-1]
    service = LocalService(service_dir, "--heartbeat_interval", "1", "--dead_letter_topic", DEAD_LETTER_TOPIC,
                           cwd=REPOSITORY).start()
    responses = Responses(project, service.topic_name, f"test-fuzz-responses-{uuid.uuid4().hex[:8]}")
    publisher = OrderedBatchPublisher(project, service.topic_name)
    try:
        yield service, responses, publisher, dead_letters
    finally:
        publisher.close()
        responses.close()
        service.stop()
        delete_subscription(project, dead_letters)


def test_the_nastiest_messages_over_the_wire(served, tmp_path):
    service, responses, publisher, dead_letters = served
    outside_file = tmp_path / "secret.txt"
    outside_file.write_text("not for questions")
    messages = nastiest_messages(str(outside_file))
    check_data, check_attributes = question(str(uuid.uuid4()), {"action": "echo", "value": "still here"})
    # One ordering key: delivered in this order, the check question last.
    for data, attributes in [*[(data, attributes) for _, data, attributes in messages], (check_data, check_attributes)]:
        responses.published.add(publisher.publish_raw(data, attributes, ordering_key="fuzz", wait=True).result())

    ours = {name: attributes for name, _, attributes in messages if addressed_to_service(attributes)}
    answered = {name: attributes["question_uuid"] for name, attributes in ours.items() if says_who_asked(attributes)}
    only_dead_lettered = {
        name: attributes["question_uuid"] for name, attributes in ours.items() if not says_who_asked(attributes)
    }
    assert {"injected sender", "injected sender, broken data", "backtracking sender", "newline sender"} <= set(
        only_dead_lettered
    )
    finals = responses.wait_for_finals({*answered.values(), check_attributes["question_uuid"]})
    letters = pull_dead_letters(os.environ["GOOGLE_CLOUD_PROJECT"], dead_letters, set(only_dead_lettered.values()))

    assert finals[check_attributes["question_uuid"]] == [
        {"kind": "result", "output_values": {"action": "echo", "value": "still here"}}
    ]
    for name, question_uuid in answered.items():
        assert len(finals[question_uuid]) == 1, (name, finals[question_uuid])
    assert finals[answered["nested 500 deep"]][0]["exception_type"] == "InvalidEvent"
    assert "nested too deeply" in finals[answered["nested 100000 deep"]][0]["exception_message"]
    assert finals[answered["path escape"]][0]["exception_type"] == "UnsafePath"
    assert finals[answered["huge attribute"]][0]["kind"] == "result"
    for name in ("random bytes", "truncated JSON", "wrong types", "unicode"):
        assert finals[answered[name]][0]["exception_type"] == "InvalidEvent", name
    for name in ("injected sender", "backtracking sender", "newline sender"):
        assert "Attribute 'sender' is invalid" in letters[only_dead_lettered[name]], name
    # Nothing was sent to anyone but the parent, nor for a message not addressed to the service.
    assert {attributes["recipient"] for _, attributes in responses.messages} == {PARENT}
    expected = {*answered.values(), check_attributes["question_uuid"]}
    assert {attributes["question_uuid"] for _, attributes in responses.messages} == expected
    assert service.sruid == SRUID
