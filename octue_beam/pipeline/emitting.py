"""Sending the events of one question, in order, while it runs: heartbeats, forwarded logs, monitor messages.

All events of a question are published directly (not via WriteToPubSub, which the DirectRunner only flushes at
bundle end) with `ordering_key = question_uuid`. A `QuestionEmitter` serialises them: once the final `result` or
`exception` is out, nothing else of that question is sent, so a late heartbeat never follows the answer.
"""

import heapq
import logging
import threading
import time
from typing import Any, Mapping

from octue_beam.messaging import events

logger = logging.getLogger(__name__)


class QuestionEmitter:
    """Publishes the events of one question with its response attributes; thread-safe."""

    def __init__(self, publisher: Any, attributes: Mapping[str, Any], publish_timeout: float = 60.0) -> None:
        self.publisher = publisher
        self.attributes = dict(attributes)
        self.question_uuid = self.attributes.get("question_uuid")
        self.publish_timeout = publish_timeout
        self._lock = threading.Lock()
        self._finished = False

    @property
    def finished(self) -> bool:
        return self._finished

    def send(self, event: Mapping[str, Any]) -> bool:
        """Publish a non-final event without waiting; False if the question already ended or publishing failed."""
        with self._lock:
            if self._finished:
                return False
            try:
                self.publisher.publish(event, self.attributes)
                return True
            except Exception:  # noqa: BLE001 - a lost heartbeat or log must not fail the question
                logger.exception("Could not publish a %r event of question %s.", event.get("kind"), self.question_uuid)
                return False

    def finish(self, event: Mapping[str, Any]) -> Any:
        """Publish the final event (nothing of this question is sent after it); return the publish future."""
        with self._lock:
            self._finished = True
            return self.publisher.publish(event, self.attributes)


class Heartbeats:
    """One clock thread per process sending `heartbeat` events of running questions every `interval` seconds."""

    def __init__(self) -> None:
        self._due: list[tuple[float, int, str]] = []  # (due time, sequence, question uuid)
        self._running: dict[str, tuple[QuestionEmitter, float]] = {}
        self._condition = threading.Condition()
        self._sequence = 0
        self._thread: threading.Thread | None = None

    def start(self, emitter: QuestionEmitter, interval: float) -> None:
        """Send a heartbeat now and then every `interval` seconds until `stop`."""
        emitter.send(events.heartbeat())
        if interval <= 0:
            return
        with self._condition:
            self._running[emitter.question_uuid] = (emitter, interval)
            self._schedule(emitter.question_uuid, time.monotonic() + interval)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="octue-beam-heartbeats", daemon=True)
                self._thread.start()
            self._condition.notify()

    def stop(self, question_uuid: str) -> None:
        with self._condition:
            self._running.pop(question_uuid, None)
            if len(self._due) > 2 * len(self._running) + 1000:  # drop entries of finished questions (bounded memory)
                self._due = [entry for entry in self._due if entry[2] in self._running]
                heapq.heapify(self._due)

    def _schedule(self, question_uuid: str, due: float) -> None:
        self._sequence += 1
        heapq.heappush(self._due, (due, self._sequence, question_uuid))

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._due or self._due[0][0] > time.monotonic():
                    timeout = None if not self._due else max(0.0, self._due[0][0] - time.monotonic())
                    self._condition.wait(timeout)
                _, _, question_uuid = heapq.heappop(self._due)
                running = self._running.get(question_uuid)
                if running is None:
                    continue
                emitter, interval = running
                self._schedule(question_uuid, time.monotonic() + interval)
            emitter.send(events.heartbeat())


class LogForwarder(logging.Handler):
    """A root-logger handler forwarding each record to the question it belongs to, if that question asked for logs.

    Which question a record belongs to is `octue_beam.service.context.current_question()` in the thread that logged
    it, so concurrent questions never receive each other's logs.
    """

    def __init__(self, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self._emitters: dict[str, QuestionEmitter] = {}
        self._local = threading.local()

    def register(self, emitter: QuestionEmitter) -> None:
        self._emitters[emitter.question_uuid] = emitter

    def unregister(self, question_uuid: str) -> None:
        self._emitters.pop(question_uuid, None)

    def emit(self, record: logging.LogRecord) -> None:
        if not self._emitters or getattr(self._local, "busy", False):
            return
        from octue_beam.service.context import current_question

        question_uuid = current_question()
        emitter = self._emitters.get(question_uuid) if question_uuid else None
        if emitter is None:
            return
        self._local.busy = True  # publishing may log; never forward those records (recursion)
        try:
            emitter.send(events.log_record(record))
        except Exception:  # noqa: BLE001
            self.handleError(record)
        finally:
            self._local.busy = False

    # `logging.Handler.handle` takes a per-handler lock around emit; publishing is thread-safe, so skip it.
    def handle(self, record: logging.LogRecord) -> bool:
        if self.filter(record):
            self.emit(record)
        return True
