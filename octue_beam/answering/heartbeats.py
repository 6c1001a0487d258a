"""Heartbeats: one clock thread per `Heartbeats` sending a `heartbeat` event of every running question on time.

A parent gives up on a question whose child stays silent for its `maximum_heartbeat_interval`; a question sends a
heartbeat every `interval` seconds until it ends, the first one interval after it was accepted (as Octue does): its
delivery acknowledgement, sent at once, already told the parent it arrived. A heartbeat at once as well was one more
event per question to publish, and on the emulator, which ignores subscription filters, one more for the service to
read back: a tenth of a busy service's time per question, and, published under the question's ordering key ahead of
its result, 40 ms of a short question's round trip. One thread serves every question
(a heap of due times), so a thousand running questions cost one thread, not a thousand timers.
"""

import heapq
import threading
import time

from octue_beam.answering.emitting import QuestionEmitter
from octue_beam.messaging import events


class Heartbeats:
    """One clock thread per process sending `heartbeat` events of running questions every `interval` seconds."""

    def __init__(self) -> None:
        self._due: list[tuple[float, int, str]] = []  # (due time, sequence, question uuid)
        self._running: dict[str, tuple[QuestionEmitter, float]] = {}
        self._condition = threading.Condition()
        self._sequence = 0
        self._thread: threading.Thread | None = None
        self._closed = False

    def start(self, emitter: QuestionEmitter, interval: float) -> None:
        """Send a heartbeat every `interval` seconds, the first one `interval` from now, until `stop` (none when
        `interval` is not positive)."""
        if interval <= 0:
            return
        with self._condition:
            if self._closed:
                return
            self._running[emitter.question_uuid] = (emitter, interval)
            self._schedule(emitter.question_uuid, time.monotonic() + interval)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="octue-beam-heartbeats", daemon=True)
                self._thread.start()
            self._condition.notify()

    def stop(self, question_uuid: str) -> None:
        """Send no more heartbeats for the question."""
        with self._condition:
            self._running.pop(question_uuid, None)
            if len(self._due) > 2 * len(self._running) + 1000:  # drop entries of finished questions (bounded memory)
                self._due = [entry for entry in self._due if entry[2] in self._running]
                heapq.heapify(self._due)

    def _schedule(self, question_uuid: str, due: float) -> None:
        self._sequence += 1
        heapq.heappush(self._due, (due, self._sequence, question_uuid))

    def close(self) -> None:
        """Stop every question's heartbeats and the clock thread. Idempotent."""
        with self._condition:
            self._closed = True
            self._running.clear()
            self._due.clear()
            self._condition.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._closed and (not self._due or self._due[0][0] > time.monotonic()):
                    timeout = None if not self._due else max(0.0, self._due[0][0] - time.monotonic())
                    self._condition.wait(timeout)
                if self._closed:
                    return
                _, _, question_uuid = heapq.heappop(self._due)
                running = self._running.get(question_uuid)
                if running is None:
                    continue
                emitter, interval = running
                self._schedule(question_uuid, time.monotonic() + interval)
            emitter.send(events.heartbeat())
