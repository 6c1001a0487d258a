"""Several parent processes asking at once, burst after burst, on one emulator: every question gets exactly one
answer, the right one, and the service keeps serving (the load row of issue 11, scaled down for CI; the full-size
figures come from `bench/load.py`).

Before issue 11 the second burst of 4 parents x 500 questions made the service exit (`Giving up after 4 attempts
... DeadlineExceeded`), lost 30-60% of the questions and sent 2-3 copies of the result of others. Here a raw observer
subscription on the services topic sees every final event, so duplicates are counted as a parent would see them
(distinct event UUIDs), not as the parent's own de-duplication hides them.
"""

import collections
import json
import os
import subprocess
import sys
import threading
import time
import uuid

import pytest
from google.cloud import pubsub_v1

from octue_beam.messaging.clients import new_client
from octue_beam.messaging.pubsub import delete_subscription, ensure_subscription
from octue_beam.testing import LocalService
from tests.support.serving import behaviours_service

PARENTS = 3
QUESTIONS_PER_PARENT = 100
BURSTS = 2

PARENT = """
import json, sys
from octue_beam import ask_multiple

sruid, topic, first, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
answers = ask_multiple(
    [{"service_id": sruid, "input_values": {"action": "echo", "value": n}, "timeout": 240, "topic_name": topic,
      "subscribe_to_logs": False} for n in range(first, first + count)],
    max_workers=50, raise_errors=False, log_errors=False,
)
print(json.dumps([
    [question_uuid, None if isinstance(answer, BaseException) else answer["output_values"],
     type(answer).__name__ if isinstance(answer, BaseException) else None]
    for answer, question_uuid in answers
]))
"""


class Observer:
    """Every final event on the topic, by question UUID: `[(event uuid, kind)]`."""

    def __init__(self, project: str, topic: str) -> None:
        self.project, self.name = project, f"test.load.observer.{uuid.uuid4().hex[:8]}"
        path = ensure_subscription(project, self.name, topic, enable_message_ordering=False)
        self.finals: dict[str, list[tuple[str, str]]] = collections.defaultdict(list)
        self._lock = threading.Lock()
        self._subscriber = new_client(pubsub_v1.SubscriberClient)
        self._future = self._subscriber.subscribe(path, self._receive)

    def _receive(self, message) -> None:
        message.ack()
        if message.attributes.get("sender_type") != "CHILD":
            return
        kind = json.loads(message.data).get("kind")
        if kind in ("result", "exception"):
            with self._lock:
                self.finals[message.attributes["question_uuid"]].append((message.attributes["uuid"], kind))

    def close(self) -> None:
        self._future.cancel()
        self._subscriber.close()
        delete_subscription(self.project, self.name)


@pytest.fixture(scope="module")
def served(pubsub_emulator):
    with behaviours_service("--heartbeat_interval", "5") as service:
        observer = Observer(os.environ["GOOGLE_CLOUD_PROJECT"], service.topic_name)
        try:
            yield service, observer
        finally:
            observer.close()


def burst(service: LocalService, number: int) -> list[list]:
    """`[question_uuid, output_values, error]` of every question of one burst from `PARENTS` parents at once."""
    parents = []
    for index in range(PARENTS):
        first = (number * PARENTS + index) * QUESTIONS_PER_PARENT
        arguments = [service.sruid, service.topic_name, str(first), str(QUESTIONS_PER_PARENT)]
        command = [sys.executable, "-c", PARENT, *arguments]
        parents.append(subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = []
    for parent in parents:
        stdout, stderr = parent.communicate(timeout=300)
        assert parent.returncode == 0, stderr[-3000:]
        results += json.loads(stdout.strip().splitlines()[-1])
    return results


def test_bursts_from_several_parents_lose_and_duplicate_nothing(served):
    service, observer = served
    for number in range(BURSTS):
        results = burst(service, number)
        assert len(results) == PARENTS * QUESTIONS_PER_PARENT
        errors = collections.Counter(error for _, _, error in results if error)
        assert not errors, f"burst {number}: questions failed: {dict(errors)}\n{service.log(40)}"
        first = number * PARENTS * QUESTIONS_PER_PARENT
        assert sorted(values["value"] for _, values, _ in results) == list(range(first, first + len(results)))
        assert all(values["action"] == "echo" for _, values, _ in results)
        assert service.process is not None and service.process.poll() is None, service.log(40)

    # Every question of every burst: exactly one final event (redeliveries of the same event are harmless).
    asked = PARENTS * QUESTIONS_PER_PARENT * BURSTS
    deadline = time.monotonic() + 30
    while len(observer.finals) < asked and time.monotonic() < deadline:
        time.sleep(0.2)  # the observer's pull may trail the parents'
    time.sleep(2)  # and late duplicates would come after
    with observer._lock:
        finals = dict(observer.finals)
    assert len(finals) == asked
    duplicated = {question: events for question, events in finals.items() if len({e for e, _ in events}) != 1}
    assert not duplicated, f"{len(duplicated)} questions got more than one answer: {list(duplicated.items())[:3]}"
    assert {kind for events in finals.values() for _, kind in events} == {"result"}
