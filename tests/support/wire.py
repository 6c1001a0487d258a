"""Test helpers speaking the wire protocol directly: question messages built as Octue 0.69 builds them, and a
listener collecting every response event sent to one parent SRUID."""

import collections
import contextlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

from google.cloud import pubsub_v1

from octue_beam.messaging import events
from octue_beam.messaging.attributes import encode_attributes, question_attributes
from octue_beam.messaging.publishing import OrderedBatchPublisher
from octue_beam.messaging.pubsub import delete_subscription, ensure_subscription

OCTUE_SDK_VERSION = "0.69.0"


def octue_question(recipient: str, parent: str, input_values: Any = None, *, question_uuid: str | None = None,
                   retry_count: int = 0, forward_logs: bool = False,
                   input_manifest: Any = None) -> tuple[bytes, dict[str, str]]:
    """`(data, attributes)` of a question exactly as Octue 0.69 publishes it (string attributes, "1"/"0" booleans)."""
    attributes = question_attributes(
        sender=parent,
        recipient=recipient,
        sender_sdk_version=OCTUE_SDK_VERSION,
        question_uuid=question_uuid or str(uuid.uuid4()),
        retry_count=retry_count,
        forward_logs=forward_logs,
    )
    data = json.dumps(events.question(input_values=input_values, input_manifest=input_manifest)).encode()
    return data, encode_attributes(attributes)


class Listener:
    """Collects response events (sender_type CHILD) addressed to `parent` from the services topic."""

    def __init__(self, project: str, parent: str, topic_name: str | None = None) -> None:
        self.project = project
        self.parent = parent
        self.name = f"test-listener-{uuid.uuid4().hex[:10]}"
        self._delete = lambda: delete_subscription(project, self.name)
        path = ensure_subscription(project, self.name, topic_name, enable_message_ordering=True)
        self.events: dict[str, list[dict]] = collections.defaultdict(list)
        self._condition = threading.Condition()
        self._subscriber = pubsub_v1.SubscriberClient()
        self._future = self._subscriber.subscribe(path, self._receive)

    def _receive(self, message: Any) -> None:
        message.ack()
        attributes = dict(message.attributes)
        if attributes.get("recipient") != self.parent or attributes.get("sender_type") != "CHILD":
            return
        with self._condition:
            self.events[attributes["question_uuid"]].append(
                {"event": json.loads(message.data), "attributes": attributes, "raw_data": message.data}
            )
            self._condition.notify_all()

    def wait_for_final(self, question_uuid: str, timeout: float = 60, count: int = 1) -> list[dict]:
        """Events of `question_uuid` once `count` final (result/exception) events arrived; raises on timeout."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while True:
                received = self.events.get(question_uuid, [])
                if sum(e["event"]["kind"] in ("result", "exception") for e in received) >= count:
                    return list(received)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"No answer to question {question_uuid} within {timeout} s; got {received}")
                self._condition.wait(remaining)

    def received(self, question_uuid: str) -> list[dict]:
        with self._condition:
            return list(self.events.get(question_uuid, []))

    def close(self) -> None:
        self._future.cancel()
        try:
            self._future.result(timeout=10)
        except Exception:  # noqa: BLE001
            pass
        self._subscriber.close()
        self._delete()


@contextlib.contextmanager
def wire_to(project: str, parent: str, topic_name: str) -> Iterator[tuple[Listener, OrderedBatchPublisher]]:
    """`(listener of the events sent to parent, publisher)` on a served service's topic, closed afterwards."""
    listener = Listener(project, parent, topic_name)
    publisher = OrderedBatchPublisher(project, topic_name)
    try:
        yield listener, publisher
    finally:
        listener.close()
        publisher.close()


def publish_question(
    publisher: OrderedBatchPublisher, recipient: str, parent: str, input_values: Any = None, **options: Any
) -> str:
    """Publish a question built as Octue 0.69 builds it (`octue_question` options); return its UUID."""
    data, attributes = octue_question(recipient, parent, input_values, **options)
    publisher.publish_raw(data, attributes, ordering_key=attributes["question_uuid"], wait=True)
    return attributes["question_uuid"]

