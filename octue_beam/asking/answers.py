"""Receiving answers: ONE answer subscription per asking process (and parent SRUID), shared by all questions.

Octue creates and deletes a subscription for every question; here an `AnswerListener` creates
`<pub-sub form of parent SRUID>.answers.<random suffix>` on first use, filtered on the parent SRUID as recipient
and CHILD as sender type, reads it with one streaming pull, and hands each waiting question its events by
`question_uuid`. Events are checked client-side too (the emulator does not apply filters): anything not for a
question waiting here is acked and ignored. The subscription is deleted by `close()`, at interpreter exit, and
Pub/Sub expires it after a day without readers if the process was killed. The process's listeners are held by its
`AskingSession` (`octue_beam.asking.session`).

A listener survives a restarted emulator (or a deleted subscription): the client library reopens a streaming pull
that failed with a transient error (UNAVAILABLE while the emulator is down) by itself; when the pull stops for good
with NotFound (a fresh emulator has no subscription) or a transient error, the listener recreates its subscription
(and, on an emulator, the topic) and resumes, logging it once, instead of failing every waiting question. Events
published while no subscription existed are lost: the waiting questions' watchdogs and retries deal with them.
Waiting questions ignore a second copy of an event (same event `uuid`), so nothing reaches a parent twice.
"""

import atexit
import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from google.api_core import exceptions as api_exceptions
from google.cloud import pubsub_v1

from octue_beam.exceptions import InvalidEvent
from octue_beam.messaging import pubsub
from octue_beam.messaging.attributes import CHILD
from octue_beam.messaging.clients import TRANSIENT_ERRORS, new_client, resolve_emulator_host
from octue_beam.messaging.parsing import decode_event, decode_message_attributes, is_addressed_to, validate_event

logger = logging.getLogger(__name__)

SUBSCRIPTION_TTL_SECONDS = 24 * 3600  # Pub/Sub's minimum; a safety net for processes killed without cleanup
#: Errors that end a streaming pull after which the listener recreates its subscription and resumes.
RECOVERABLE_ERRORS: tuple[type[Exception], ...] = (api_exceptions.NotFound, *TRANSIENT_ERRORS)
#: How long a listener tries to recreate its subscription before failing the questions waiting on it.
RECOVERY_SECONDS = 300.0


class ListenerFailed:
    """Put on waiting queues when the streaming pull stops with an error."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


class AnswerListener:
    """One answer subscription and streaming pull, dispatching events to waiting questions by question UUID.

    `emulator_host` is the Pub/Sub emulator to listen on (None: `PUBSUB_EMULATOR_HOST` now; "": the real Pub/Sub);
    `on_close(listener)` is called once it is closed (its session forgets it). `recoveries` counts the times it
    recreated its subscription and resumed (see the module docstring).
    """

    def __init__(
        self,
        project: str,
        parent_sruid: str,
        topic_name: str | None = None,
        *,
        emulator_host: str | None = None,
        on_close: Callable[["AnswerListener"], None] | None = None,
    ) -> None:
        self.project = project
        self.parent_sruid = parent_sruid
        self.topic_name = topic_name
        self.subscription_name = pubsub.answer_subscription_name(parent_sruid, uuid.uuid4().hex[:12])
        self._queues: dict[str, queue.Queue] = {}
        self._lock = threading.Lock()
        self._client: Any = None
        self._future: Any = None
        self._closed = False
        self.failure: BaseException | None = None
        self.emulator_host = resolve_emulator_host(emulator_host)
        self._on_close = on_close
        self.pid = os.getpid()  # a forked child must neither use nor delete its parent's subscription
        self.recoveries = 0

    @property
    def subscription_path(self) -> str:
        return pubsub.subscription_path(self.project, self.subscription_name)

    def start(self) -> "AnswerListener":
        """Create the subscription and start the streaming pull (idempotent)."""
        with self._lock:
            if self._future is not None:
                return self
            self._ensure_subscription()
            atexit.register(self.close)
            self._client = new_client(pubsub_v1.SubscriberClient, self.emulator_host)
            self._subscribe()
            logger.debug("Listening for answers to %s on %r.", self.parent_sruid, self.subscription_path)
        return self

    def _ensure_subscription(self) -> None:
        pubsub.ensure_subscription(
            self.project,
            self.subscription_name,
            self.topic_name,
            filter=pubsub.answer_subscription_filter(self.parent_sruid),
            expiration_ttl_seconds=SUBSCRIPTION_TTL_SECONDS,
            message_retention_seconds=600,
            create_topic=bool(self.emulator_host),
            emulator_host=self.emulator_host,
        )

    def _subscribe(self) -> None:
        """Start the streaming pull (with the lock held)."""
        self._future = self._client.subscribe(
            self.subscription_path,
            callback=self._on_message,
            flow_control=pubsub_v1.types.FlowControl(max_messages=500),
        )
        self._future.add_done_callback(self._on_stopped)

    def register(self, question_uuid: str, events: queue.Queue | None = None) -> queue.Queue:
        """The queue that will receive `(event, typed_attributes, data, arrival_monotonic_time)` items of the question
        (`events` if given: several questions may share one queue). Register BEFORE asking."""
        with self._lock:
            if question_uuid in self._queues:
                raise ValueError(f"Question {question_uuid} is already being waited for in this process.")
            events = queue.Queue() if events is None else events
            self._queues[question_uuid] = events
            if self.failure is not None:
                events.put(ListenerFailed(self.failure))
            return events

    def unregister(self, question_uuid: str) -> None:
        """Stop handing over the question's events (they are acked and ignored from now on)."""
        with self._lock:
            self._queues.pop(question_uuid, None)

    def _on_message(self, message: Any) -> None:
        # Acknowledged only once handed over: the client delivers the next message of an ordering key (a question's
        # next event) after this one is acknowledged, so the question's queue receives its events in order.
        try:
            self._dispatch(message)
        finally:
            message.ack()

    def _dispatch(self, message: Any) -> None:
        attributes = dict(message.attributes)
        if not is_addressed_to(attributes, self.parent_sruid, CHILD):
            logger.debug("Ignored a message not addressed to %s: %r.", self.parent_sruid, attributes)
            return
        with self._lock:
            events = self._queues.get(attributes.get("question_uuid", ""))
        if events is None:
            logger.debug(
                "Ignored an event for question %r, which is not waited for here.", attributes.get("question_uuid")
            )
            return
        try:
            typed = decode_message_attributes(attributes)
            event = decode_event(message.data)
            validate_event(event, typed)
        except InvalidEvent as error:
            logger.warning(
                "Ignored an invalid event for question %s from %s: %s",
                attributes.get("question_uuid"),
                attributes.get("sender"),
                error,
            )
            return
        events.put((event, typed, message.data, time.monotonic()))

    def _on_stopped(self, future: Any) -> None:
        if self._closed:
            return
        try:
            error = future.exception()
        except BaseException as cancelled:  # noqa: BLE001
            error = cancelled
        if error is None:
            return
        with self._lock:
            if self._closed or future is not self._future:
                return
        if isinstance(error, RECOVERABLE_ERRORS):
            threading.Thread(
                target=self._recover, args=(error,), name="octue-beam-answers-recovery", daemon=True
            ).start()
            return
        self._fail(error)

    def _recover(self, error: BaseException) -> None:
        """Recreate the subscription and resume the streaming pull, retrying with backoff for `RECOVERY_SECONDS`;
        then fail the waiting questions."""
        logger.warning(
            "Stopped receiving answers on %r (%s: %s); recreating the subscription and resuming.",
            self.subscription_path, type(error).__name__, str(error).split("\n", 1)[0],
        )
        deadline = time.monotonic() + RECOVERY_SECONDS
        delay = 0.5
        while not self._closed:
            try:
                self._ensure_subscription()
                with self._lock:
                    if self._closed:
                        return
                    self._subscribe()
                    self.recoveries += 1
                logger.warning("Receiving answers on %r again.", self.subscription_path)
                return
            except Exception as attempt_error:  # noqa: BLE001 - retried until the deadline, then reported
                if time.monotonic() + delay > deadline:
                    self._fail(attempt_error)
                    return
                time.sleep(delay)
                delay = min(delay * 2, 10.0)

    def _fail(self, error: BaseException) -> None:
        """Fail every question waiting here, and those registered later."""
        logger.error("Stopped receiving answers on %r: %s", self.subscription_path, error)
        with self._lock:
            self.failure = error
            waiting = list(self._queues.values())
        for events in waiting:
            events.put(ListenerFailed(error))

    def close(self) -> None:
        """Stop the streaming pull and delete the subscription. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if os.getpid() != self.pid:
                return
            future, self._future = self._future, None
            client, self._client = self._client, None
        if future is not None:
            future.cancel()
            try:
                future.result(timeout=10)
            except BaseException:  # noqa: BLE001 - cancelled
                pass
        if client is not None:
            try:
                client.close()
            except Exception:  # noqa: BLE001
                pass
        try:
            pubsub.delete_subscription(
                self.project, self.subscription_name, emulator_host=self.emulator_host, timeout=10
            )
        except Exception as error:  # noqa: BLE001 - best effort at exit; the TTL removes it later
            # An emulator already stopped took the subscription with it.
            log = logger.debug if self.emulator_host else logger.warning
            log("Could not delete the answer subscription %r: %s", self.subscription_path, error)
        try:
            atexit.unregister(self.close)
        except Exception:  # noqa: BLE001
            pass
        if self._on_close is not None:
            self._on_close(self)
