"""Publishing events on Pub/Sub: one `Publisher` interface, three implementations.

- `OrderedBatchPublisher`, what a serving service needs: every event with `ordering_key = question_uuid`, in call
  order, in few requests. The Pub/Sub client library batches per ordering key, so every question's events would
  cost their own publish requests (and a commit thread each): that, not the app, limited how many questions a
  worker answered per second. This publisher keeps ONE stream: events from every question thread are queued, and a
  single sender thread publishes whatever is queued in one request, waiting for each request before the next.
  Order is therefore kept across all events (so, in particular, per ordering key), and under load one request
  carries the events of many questions.
- `UnorderedPublisher`, what the asking side needs: messages batched by the client library, without ordering keys
  (a question is one message, so ordering does not apply; ordering keys would cost one publish request per question
  when many are asked at once).
- `MemoryPublisher`, for unit tests without Pub/Sub.

`wire_message` is the one encoding of an event and its attributes for publishing.
"""

import collections
import logging
import threading
import time
from collections.abc import Mapping
from concurrent import futures
from typing import Any, Protocol

from google.api_core import exceptions as api_exceptions
from google.cloud import pubsub_v1
from google.pubsub_v1 import PublisherClient as GapicPublisherClient
from google.pubsub_v1 import PubsubMessage

from octue_beam import serialisation
from octue_beam.messaging.attributes import encode_attributes, refreshed
from octue_beam.messaging.clients import new_client
from octue_beam.messaging.pubsub import topic_path

logger = logging.getLogger(__name__)

MAX_REQUEST_MESSAGES = 1000
MAX_REQUEST_BYTES = 9_000_000  # Pub/Sub's request limit is 10 MB
RETRY_DELAYS = (0.1, 0.5, 2.0, 5.0)


def wire_message(event: Mapping[str, Any], attributes: Mapping[str, Any]) -> tuple[bytes, dict[str, str]]:
    """An event as it is published: its JSON bytes and its string attributes, given a new `uuid` and `datetime`."""
    wire_attributes = encode_attributes(refreshed(attributes))
    return serialisation.dumps(event).encode(), wire_attributes


class Publisher(Protocol):
    """What the answering core and the asking side publish through: events with typed attributes, or raw bytes."""

    def publish(self, event: Mapping[str, Any], attributes: Mapping[str, Any], wait: bool = False) -> futures.Future:
        """Publish `event` with typed `attributes` (given a new `uuid` and `datetime`); a future of the message ID."""

    def publish_raw(
        self, data: bytes, attributes: Mapping[str, str], ordering_key: str = "", wait: bool = False
    ) -> futures.Future:
        """Publish bytes with string attributes as given."""

    def close(self) -> None:
        """Send what is queued and release the client."""


class MemoryPublisher:
    """A `Publisher` keeping what is published in memory (`messages`: `(data, wire attributes)` in order), for unit
    tests of the answering core and the DoFns without any Pub/Sub. `fail_with` makes every publish fail with it."""

    def __init__(self, fail_with: BaseException | None = None) -> None:
        self.messages: list[tuple[bytes, dict[str, str]]] = []
        self.fail_with = fail_with
        self.closed = False
        self._lock = threading.Lock()

    def publish(self, event: Mapping[str, Any], attributes: Mapping[str, Any], wait: bool = False) -> futures.Future:
        data, wire_attributes = wire_message(event, attributes)
        return self.publish_raw(data, wire_attributes, wait=wait)

    def publish_raw(
        self, data: bytes, attributes: Mapping[str, str], ordering_key: str = "", wait: bool = False
    ) -> futures.Future:
        future: futures.Future = futures.Future()
        if self.fail_with is not None:
            future.set_exception(self.fail_with)
        else:
            with self._lock:
                self.messages.append((data, dict(attributes)))
                future.set_result(str(len(self.messages)))
        if wait:
            future.result()
        return future

    def events(self) -> list[tuple[dict, dict[str, str]]]:
        """`(event, wire attributes)` of every message published so far."""
        with self._lock:
            return [(serialisation.loads(data), attributes) for data, attributes in self.messages]

    def close(self) -> None:
        self.closed = True


class OrderedBatchPublisher:
    """Publishes events to a topic with `ordering_key = question_uuid`, one request at a time, in call order.

    Thread-safe: share one per process and topic. A message Pub/Sub refuses (e.g. too big) fails only its own future;
    transient errors are retried (`RETRY_DELAYS`) without reordering. `client` is the gapic `google.pubsub_v1`
    `PublisherClient` to publish with (default: a new one for `emulator_host`, see `messaging.clients`); anything with
    its `publish(topic=, messages=, timeout=)` will do, e.g. a fake in unit tests.
    """

    def __init__(
        self,
        project: str,
        topic_name: str | None = None,
        *,
        publish_timeout: float = 60.0,
        emulator_host: str | None = None,
        client: Any = None,
    ) -> None:
        self.project = project
        self.topic = topic_path(project, topic_name)
        self.publish_timeout = publish_timeout
        self._client = client if client is not None else new_client(GapicPublisherClient, emulator_host)
        self._queue: collections.deque = collections.deque()
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def publish(self, event: Mapping[str, Any], attributes: Mapping[str, Any], wait: bool = False) -> futures.Future:
        """Publish `event` with typed `attributes` (given a new `uuid` and `datetime`); return a future of its ID."""
        data, wire_attributes = wire_message(event, attributes)
        return self.publish_raw(data, wire_attributes, ordering_key=wire_attributes.get("question_uuid", ""), wait=wait)

    def publish_raw(
        self, data: bytes, attributes: Mapping[str, str], ordering_key: str = "", wait: bool = False
    ) -> futures.Future:
        """Queue bytes with string attributes; the future resolves to the message ID (or the publishing error)."""
        message = PubsubMessage(data=data, attributes=dict(attributes), ordering_key=ordering_key)
        future: futures.Future = futures.Future()
        size = len(data) + sum(len(k) + len(v) for k, v in attributes.items()) + len(ordering_key) + 64
        with self._condition:
            if self._closed:
                raise RuntimeError(f"The publisher of {self.topic} is closed.")
            self._queue.append((message, future, size))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="octue-beam-publisher", daemon=True)
                self._thread.start()
            self._condition.notify()
        if wait:
            future.result(timeout=self.publish_timeout)
        return future

    def _next_request(self) -> list:
        with self._condition:
            while not self._queue:
                if self._closed:
                    return []
                self._condition.wait()
            batch, size = [], 0
            while self._queue and len(batch) < MAX_REQUEST_MESSAGES:
                item_size = self._queue[0][2]
                if batch and size + item_size > MAX_REQUEST_BYTES:
                    break
                batch.append(self._queue.popleft())
                size += item_size
            return batch

    def _run(self) -> None:
        while True:
            batch = self._next_request()
            if not batch:
                return
            try:
                self._send(batch)
            except BaseException as error:  # noqa: BLE001 - never leave a future pending
                for _, future, _ in batch:
                    if not future.done():
                        future.set_exception(error)

    def _send(self, batch: list) -> None:
        for delay in (*RETRY_DELAYS, None):
            try:
                response = self._publish([message for message, _, _ in batch])
            except api_exceptions.InvalidArgument as error:
                if len(batch) > 1:  # one bad message (e.g. too big) must not fail the others: send one by one
                    for item in batch:
                        self._send([item])
                    return
                batch[0][1].set_exception(error)
                return
            except Exception as error:  # noqa: BLE001 - transient: retry, keeping the order
                if delay is None:
                    for _, future, _ in batch:
                        future.set_exception(error)
                    return
                logger.warning("Publishing %d event(s) failed (%s); retrying in %.1f s.", len(batch), error, delay)
                time.sleep(delay)
                continue
            for (_, future, _), message_id in zip(batch, response.message_ids, strict=True):
                future.set_result(message_id)
            return

    def _publish(self, messages: list) -> Any:
        """One publish request with all these messages (the gapic call: no client-side batching)."""
        return self._client.publish(topic=self.topic, messages=messages, timeout=self.publish_timeout)

    def close(self) -> None:
        """Send what is queued, then stop the sender thread."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=self.publish_timeout)


class UnorderedPublisher:
    """Publishes messages without ordering keys, batched by the client library (a few milliseconds' wait, up to
    100 messages a request). Thread-safe: share one per process, topic and emulator. Used for questions."""

    def __init__(
        self,
        project: str,
        topic_name: str | None = None,
        *,
        publish_timeout: float = 60.0,
        emulator_host: str | None = None,
        client: Any = None,
    ) -> None:
        self.project = project
        self.topic = topic_path(project, topic_name)
        self.publish_timeout = publish_timeout
        self._client = client if client is not None else new_client(
            pubsub_v1.PublisherClient,
            emulator_host,
            batch_settings=pubsub_v1.types.BatchSettings(max_bytes=10_000_000, max_latency=0.005, max_messages=100),
        )

    def publish(self, event: Mapping[str, Any], attributes: Mapping[str, Any], wait: bool = False) -> futures.Future:
        """Publish `event` with typed `attributes` (given a new `uuid` and `datetime`); return a future of its ID."""
        data, wire_attributes = wire_message(event, attributes)
        return self.publish_raw(data, wire_attributes, wait=wait)

    def publish_raw(
        self, data: bytes, attributes: Mapping[str, str], ordering_key: str = "", wait: bool = False
    ) -> futures.Future:
        """Publish bytes with string attributes as given. Ordering keys need an `OrderedBatchPublisher`."""
        if ordering_key:
            raise ValueError("An UnorderedPublisher publishes without ordering keys: use an OrderedBatchPublisher.")
        future = self._client.publish(self.topic, data, **dict(attributes))
        if wait:
            future.result(timeout=self.publish_timeout)
        return future

    def close(self) -> None:
        """Send what is batched and stop the client; the publisher cannot be used afterwards."""
        try:
            self._client.stop()
        except Exception:  # noqa: BLE001 - already stopped
            pass
