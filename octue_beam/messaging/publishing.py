"""Publishing events on Pub/Sub: one `Publisher` interface, three implementations.

- `OrderedBatchPublisher`, what a serving service needs: every event with the ordering key of its question
  (`ordering_key(question_uuid)`: one of `ORDERING_KEYS` keys, so one question's events share a key and keep their
  order, while the emulator, which keeps threads per subscription and ordering key for ever, sees a bounded set of
  keys; see docs/protocol.md). The Pub/Sub client library batches per ordering key, so every question's events
  would cost their own publish requests (and a commit thread each): that, not the app, limited how many questions a
  worker answered per second. This publisher keeps ONE stream: events from every question thread are queued, and a
  single sender thread publishes whatever is queued in one request, waiting for each request before the next.
  Order is therefore kept across all events (so, in particular, per ordering key), and under load one request
  carries the events of many questions.
- `UnorderedPublisher`, what the asking side needs: messages batched by the client library, without ordering keys
  (a question is one message, so ordering does not apply; ordering keys would cost one publish request per question
  when many are asked at once).
- `MemoryPublisher`, for unit tests without Pub/Sub.

Every message is checked against Pub/Sub's size limit before it is queued (`check_size`): one that is too big fails
its own future at once with `MessageTooLarge` (saying to send large data as a manifest) and never reaches Pub/Sub,
whose emulator would not even reply to it. Requests have bounded timeouts; `TRANSIENT_ERRORS` (DEADLINE_EXCEEDED,
UNAVAILABLE...) are retried with backoff; whatever fails, fails only the futures of its own messages.
`refused(error)` tells a definitive refusal (the message can never be sent, so it was not) from a failure after
which the message may still have arrived.

`wire_message` is the one encoding of an event and its attributes for publishing.
"""

import collections
import logging
import threading
import time
import zlib
from collections.abc import Mapping
from concurrent import futures
from typing import Any, Protocol

from google.api_core import exceptions as api_exceptions
from google.cloud import pubsub_v1
from google.pubsub_v1 import PublisherClient as GapicPublisherClient
from google.pubsub_v1 import PubsubMessage

from octue_beam import serialisation
from octue_beam.messaging.attributes import encode_attributes, refreshed
from octue_beam.messaging.clients import TRANSIENT_ERRORS, admin_retry, new_client
from octue_beam.messaging.parsing import MAX_MESSAGE_BYTES
from octue_beam.messaging.pubsub import topic_path

logger = logging.getLogger(__name__)

MAX_REQUEST_MESSAGES = 1000
MAX_REQUEST_BYTES = 9_000_000  # Pub/Sub's request limit is 10 MB; a bigger message goes in a request of its own
#: Waits between the attempts of a request that failed with a transient error (then its messages fail).
RETRY_DELAYS = (0.1, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0)
#: How many ordering keys a service's events use (see `ordering_key`).
ORDERING_KEYS = 16
ORDERING_KEY_PREFIX = "octue-beam."

#: What to do instead of sending too much data in one message, by event kind (any other kind: outputs).
LARGE_DATA_ADVICE = {
    "question": "send large inputs as an input manifest (files in Cloud Storage) instead of input values",
    None: "send large data as files in Cloud Storage (a manifest) instead",
}
LARGE_OUTPUT_ADVICE = "return large outputs as an output manifest (files in Cloud Storage) instead of output values"


class MessageTooLarge(ValueError):
    """A message is over Pub/Sub's size limit: it was not, and could never be, published."""


def ordering_key(question_uuid: str, keys: int = ORDERING_KEYS) -> str:
    """The ordering key of a question's events: one of `keys` keys, the same for every event of the question
    (`octue-beam.00` ... `octue-beam.15`). Stable across processes (CRC-32 of the UUID), so every worker and every
    retry of a question uses the same key; "" for no question."""
    if not question_uuid:
        return ""
    return f"{ORDERING_KEY_PREFIX}{zlib.crc32(question_uuid.encode()) % keys:02d}"


def message_size(data: bytes, attributes: Mapping[str, str], ordering_key: str = "") -> int:
    """What Pub/Sub counts against its message size limit: data, attribute names and values, and the ordering key."""
    return len(data) + sum(len(k.encode()) + len(v.encode()) for k, v in attributes.items()) + len(ordering_key)


def check_size(
    data: bytes,
    attributes: Mapping[str, str],
    ordering_key: str = "",
    *,
    kind: str | None = None,
    limit: int = MAX_MESSAGE_BYTES,
) -> int:
    """The message's size; raises `MessageTooLarge` (naming the limit and what to do instead) if it is over `limit`.

    `kind` is the event's kind, for the advice: outputs as an output manifest, inputs as an input manifest.
    """
    size = message_size(data, attributes, ordering_key)
    if size > limit:
        what = f"The {kind} event" if kind else "The message"
        question_uuid = attributes.get("question_uuid")
        of_question = f" of question {question_uuid}" if question_uuid else ""
        advice = LARGE_DATA_ADVICE.get(kind, LARGE_OUTPUT_ADVICE)
        raise MessageTooLarge(
            f"{what}{of_question} is {size} bytes, more than Pub/Sub's limit of {limit} bytes for a message (data "
            f"and attributes): {advice}."
        )
    return size


class PublisherClosed(RuntimeError):
    """A message was given to a publisher that is closed."""


def refused(error: BaseException) -> bool:
    """Whether a publishing error is a definitive refusal: the message was not published and never will be (too big,
    not serialisable, refused by Pub/Sub as invalid, or the publisher is closed). After any other failure (a timeout,
    DEADLINE_EXCEEDED, UNAVAILABLE...) the message may still have arrived."""
    return isinstance(error, (MessageTooLarge, TypeError, ValueError, api_exceptions.InvalidArgument, PublisherClosed))


def wire_message(event: Mapping[str, Any], attributes: Mapping[str, Any]) -> tuple[bytes, dict[str, str]]:
    """An event as it is published: its JSON bytes and its string attributes, given a new `uuid` and `datetime`."""
    wire_attributes = encode_attributes(refreshed(attributes))
    return serialisation.dumps(event).encode(), wire_attributes


def _failed(error: BaseException, wait: bool) -> futures.Future:
    """A future that failed with `error` (raised at once when the caller waits)."""
    if wait:
        raise error
    future: futures.Future = futures.Future()
    future.set_exception(error)
    return future


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
    tests of the answering core and the DoFns without any Pub/Sub. `fail_with` makes every publish fail with it.
    Like the Pub/Sub publishers, it refuses a message over `max_message_bytes` with `MessageTooLarge`."""

    def __init__(self, fail_with: BaseException | None = None, *, max_message_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self.messages: list[tuple[bytes, dict[str, str]]] = []
        self.fail_with = fail_with
        self.max_message_bytes = max_message_bytes
        self.closed = False
        self._lock = threading.Lock()

    def publish(self, event: Mapping[str, Any], attributes: Mapping[str, Any], wait: bool = False) -> futures.Future:
        data, wire_attributes = wire_message(event, attributes)
        try:
            check_size(data, wire_attributes, kind=event.get("kind"), limit=self.max_message_bytes)
        except MessageTooLarge as error:
            return _failed(error, wait)
        return self.publish_raw(data, wire_attributes, wait=wait)

    def publish_raw(
        self, data: bytes, attributes: Mapping[str, str], ordering_key: str = "", wait: bool = False
    ) -> futures.Future:
        future: futures.Future = futures.Future()
        if self.fail_with is not None:
            future.set_exception(self.fail_with)
        else:
            try:
                check_size(data, attributes, ordering_key, limit=self.max_message_bytes)
            except MessageTooLarge as error:
                return _failed(error, wait)
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
    """Publishes events to a topic with the ordering key of their question, one request at a time, in call order.

    Thread-safe: share one per process and topic. A message over Pub/Sub's size limit fails its own future at once
    (`MessageTooLarge`, never sent); one Pub/Sub refuses fails only its own future; `TRANSIENT_ERRORS` are retried
    (`RETRY_DELAYS`, for at most `retry_seconds`) without reordering, each request taking at most `publish_timeout`
    seconds, after which its messages fail and the next request goes. `ordering_keys` bounds the set of ordering keys
    used (`ordering_key`). `client` is the gapic `google.pubsub_v1` `PublisherClient` to publish with (default: a new
    one for `emulator_host`, see `messaging.clients`); anything with its `publish(topic=, messages=, timeout=,
    retry=)` will do, e.g. a fake in unit tests.
    """

    def __init__(
        self,
        project: str,
        topic_name: str | None = None,
        *,
        publish_timeout: float = 60.0,
        retry_seconds: float = 120.0,
        ordering_keys: int = ORDERING_KEYS,
        emulator_host: str | None = None,
        client: Any = None,
    ) -> None:
        self.project = project
        self.topic = topic_path(project, topic_name)
        self.publish_timeout = publish_timeout
        self.retry_seconds = retry_seconds
        self.ordering_keys = ordering_keys
        self._client = client if client is not None else new_client(GapicPublisherClient, emulator_host)
        self._queue: collections.deque = collections.deque()
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def publish(self, event: Mapping[str, Any], attributes: Mapping[str, Any], wait: bool = False) -> futures.Future:
        """Publish `event` with typed `attributes` (given a new `uuid` and `datetime`) and its question's ordering key;
        return a future of its ID (failed at once with `MessageTooLarge` if it is over Pub/Sub's limit)."""
        data, wire_attributes = wire_message(event, attributes)
        key = ordering_key(wire_attributes.get("question_uuid", ""), self.ordering_keys)
        try:
            check_size(data, wire_attributes, key, kind=event.get("kind"))
        except MessageTooLarge as error:
            return _failed(error, wait)
        return self.publish_raw(data, wire_attributes, ordering_key=key, wait=wait)

    def publish_raw(
        self, data: bytes, attributes: Mapping[str, str], ordering_key: str = "", wait: bool = False
    ) -> futures.Future:
        """Queue bytes with string attributes; the future resolves to the message ID (or the publishing error)."""
        try:
            size = check_size(data, attributes, ordering_key) + 64  # + the request's framing of it
        except MessageTooLarge as error:
            return _failed(error, wait)
        message = PubsubMessage(data=data, attributes=dict(attributes), ordering_key=ordering_key)
        future: futures.Future = futures.Future()
        with self._condition:
            if self._closed:
                raise PublisherClosed(f"The publisher of {self.topic} is closed.")
            self._queue.append((message, future, size))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="octue-beam-publisher", daemon=True)
                self._thread.start()
            self._condition.notify()
        if wait:
            future.result(timeout=self.retry_seconds + 2 * self.publish_timeout)
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
        """Publish the batch in one request: split on a refusal (one bad message must not fail the others), retry
        transient errors with backoff for at most `retry_seconds`, then fail the batch's futures."""
        started = time.monotonic()
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
            except TRANSIENT_ERRORS as error:
                if delay is None or time.monotonic() + delay - started > self.retry_seconds:
                    logger.error(
                        "Publishing %d event(s) to %s failed for %.0f s (%s); giving up on them.",
                        len(batch), self.topic, time.monotonic() - started, _short(error),
                    )
                    _fail(batch, error)
                    return
                logger.warning(
                    "Publishing %d event(s) failed (%s); retrying in %.1f s.", len(batch), _short(error), delay
                )
                time.sleep(delay)
                continue
            except Exception as error:  # noqa: BLE001 - e.g. NotFound, PermissionDenied: retrying will not help
                logger.error("Publishing %d event(s) to %s failed: %s", len(batch), self.topic, _short(error))
                _fail(batch, error)
                return
            for (_, future, _), message_id in zip(batch, response.message_ids, strict=True):
                future.set_result(message_id)
            return

    def _publish(self, messages: list) -> Any:
        """One publish request with all these messages (the gapic call: no client-side batching, and no retries of
        the library's, which would retry for up to 600 s: `_send` retries)."""
        return self._client.publish(topic=self.topic, messages=messages, timeout=self.publish_timeout, retry=None)

    def close(self) -> None:
        """Send what is queued, then stop the sender thread."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=self.publish_timeout)


def _fail(batch: list, error: BaseException) -> None:
    for _, future, _ in batch:
        if not future.done():
            future.set_exception(error)


def _short(error: BaseException) -> str:
    """The first line of an error, with its type."""
    return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"


class UnorderedPublisher:
    """Publishes messages without ordering keys, batched by the client library (a few milliseconds' wait, up to
    100 messages a request). Thread-safe: share one per process, topic and emulator. Used for questions.

    A message over Pub/Sub's size limit fails at once (`MessageTooLarge`). The library retries `TRANSIENT_ERRORS`
    with backoff for at most `publish_timeout` seconds (its default would retry for 600 s).
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
        self._client = client if client is not None else new_client(
            pubsub_v1.PublisherClient,
            emulator_host,
            batch_settings=pubsub_v1.types.BatchSettings(max_bytes=10_000_000, max_latency=0.005, max_messages=100),
            publisher_options=pubsub_v1.types.PublisherOptions(
                retry=admin_retry(publish_timeout), timeout=min(publish_timeout, 30.0)
            ),
        )

    def publish(self, event: Mapping[str, Any], attributes: Mapping[str, Any], wait: bool = False) -> futures.Future:
        """Publish `event` with typed `attributes` (given a new `uuid` and `datetime`); return a future of its ID."""
        data, wire_attributes = wire_message(event, attributes)
        try:
            check_size(data, wire_attributes, kind=event.get("kind"))
        except MessageTooLarge as error:
            return _failed(error, wait)
        return self.publish_raw(data, wire_attributes, wait=wait)

    def publish_raw(
        self, data: bytes, attributes: Mapping[str, str], ordering_key: str = "", wait: bool = False
    ) -> futures.Future:
        """Publish bytes with string attributes as given. Ordering keys need an `OrderedBatchPublisher`."""
        if ordering_key:
            raise ValueError("An UnorderedPublisher publishes without ordering keys: use an OrderedBatchPublisher.")
        try:
            check_size(data, attributes)
        except MessageTooLarge as error:
            return _failed(error, wait)
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
