"""`QuestionRunner`: answering several questions at once, each within its time limit, none blocking another.

A transport hands each question to `submit` and collects its `PendingAnswer` from the returned future whenever it
likes (the Beam DoFn either waits for its bundle's questions or outputs answers as they finish). The runner:

- **accepts** the question at once (`Answerer.accept`: its acknowledgement and heartbeats start, so its parent knows
  it arrived and keeps waiting while it queues): in `submit` itself, or with `accept_in_background` in the runner's
  accepting thread, in the order submitted, so that a transport with one thread (the local Beam runner) goes back to
  reading at once;
- runs at most `max_concurrent_questions` apps at a time (the *slots*), each in its own thread, and queues the rest,
  answered in the order they came;
- ends a question whose app runs longer than `question_timeout` seconds with a `QuestionTimeLimitExceeded` exception
  and frees its slot for the next question. A thread cannot be killed: the app's thread runs on, *overrunning*, and
  whatever it sends later is refused by its emitter (the question already ended);
- bounds what a stuck app can pile up: at most `max_queued_questions` wait (`submit` then blocks, so the transport
  stops taking questions: on the local runner they stay in Pub/Sub), and at most `max_overrunning_threads` threads
  may overrun (default: ten per slot; beyond that a slot is freed only when its thread really ends). Both are
  logged.

Slots are a count over threads rather than a fixed pool because a pool's thread stays taken by a hung app forever.
"""

import collections
import dataclasses
import logging
import sys
import threading
import time
from collections.abc import Callable
from concurrent import futures

from octue_beam.answering.core import AcceptedQuestion, Answerer, PendingAnswer
from octue_beam.answering.values import Question
from octue_beam.messaging.timeouts import DEFAULT_QUESTION_TIMEOUT

logger = logging.getLogger(__name__)

DEFAULT_MAX_CONCURRENT_QUESTIONS = 10
DEFAULT_MAX_QUEUED_QUESTIONS = 1000
#: Threads that may overrun their time limit per slot before slots stop being freed early (a thread stuck in an app
#: usually waits on I/O or a lock and costs little; ten per slot rides out hours of every question hanging).
OVERRUNNING_THREADS_PER_SLOT = 10
#: How long a thread whose answer was settled at once waits for a next question before it ends (a batch hands
#: questions over one by one, and the runner's threads often empty the queue between two of them).
IDLE_THREAD_SECONDS = 0.05

__all__ = [
    "DEFAULT_MAX_CONCURRENT_QUESTIONS",
    "DEFAULT_MAX_QUEUED_QUESTIONS",
    "DEFAULT_QUESTION_TIMEOUT",
    "QuestionRunner",
]


@dataclasses.dataclass(eq=False)
class _Entry:
    """One accepted question: queued, then running in `thread` until `deadline`, then ended."""

    accepted: AcceptedQuestion
    future: "futures.Future[PendingAnswer | None]"
    thread: threading.Thread | None = None
    deadline: float = float("inf")
    expiring: bool = False  # the time limit is ending it
    expired: bool = False  # it was ended by its time limit (its thread, if still running, overruns)
    holds_slot: bool = False


class QuestionRunner:
    """Runs `answerer`'s questions, at most `max_concurrent_questions` at a time, each for at most `question_timeout`
    seconds (None: no limit)."""

    def __init__(
        self,
        answerer: Answerer,
        max_concurrent_questions: int = DEFAULT_MAX_CONCURRENT_QUESTIONS,
        *,
        question_timeout: float | None = DEFAULT_QUESTION_TIMEOUT,
        max_queued_questions: int = DEFAULT_MAX_QUEUED_QUESTIONS,
        max_overrunning_threads: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if question_timeout is not None and not question_timeout > 0:
            raise ValueError(f"question_timeout must be a positive number of seconds, not {question_timeout!r}.")
        self.answerer = answerer
        self.slots = max(1, int(max_concurrent_questions))
        self.question_timeout = question_timeout
        self.max_queued_questions = max(1, int(max_queued_questions))
        self.max_overrunning_threads = (
            OVERRUNNING_THREADS_PER_SLOT * self.slots
            if max_overrunning_threads is None
            else max(0, int(max_overrunning_threads))
        )
        self._clock = clock
        lock = threading.RLock()
        self._condition = threading.Condition(lock)  # submitters waiting for room, `close(wait=True)`
        # The accepting thread and the time-limit thread wait on their own conditions (same lock), so that starting
        # and ending questions does not wake them for nothing.
        self._incoming_ready = threading.Condition(lock)
        self._deadline_changed = threading.Condition(lock)
        # Idle threads (`_wait_for_next`) wait on their own condition and are woken one per question left to them:
        # on `_condition` every question queued woke all of them (a batch's main cost per question, in GIL switches).
        self._next_ready = threading.Condition(lock)
        self._supervisor_waits_until = float("inf")
        self._queue: collections.deque[_Entry] = collections.deque()
        self._incoming: collections.deque[tuple[Question, futures.Future]] = collections.deque()  # to be accepted
        self._acceptor: threading.Thread | None = None
        self._running: set[_Entry] = set()  # entries whose thread runs, expired (overrunning) or not
        self._busy = 0  # slots taken
        self._idle = 0  # threads waiting for a next question (`_wait_for_next`)
        self._closed = False
        self._queue_full_logged = False
        self._supervisor: threading.Thread | None = None

    # --- the transport's side -----------------------------------------------------------------------------------

    def submit(
        self, question: Question, *, accept_in_background: bool = False
    ) -> "futures.Future[PendingAnswer | None]":
        """Accept the question and answer it when a slot is free; the future gives its PendingAnswer once its final
        event was handed to the sink (None for a duplicate delivery). Blocks only while the queue is full.

        With `accept_in_background` the question is accepted (duplicate check, acknowledgement, heartbeats scheduled)
        by the runner's accepting thread, in the order of submission, instead of before `submit` returns."""
        with self._condition:
            while len(self._queue) + len(self._incoming) >= self.max_queued_questions and not self._closed:
                if not self._queue_full_logged:
                    self._queue_full_logged = True
                    logger.warning(
                        "All %d question slots are busy and %d questions are queued: taking no more questions until "
                        "one ends (%d threads are overrunning their time limit).",
                        self.slots,
                        len(self._queue) + len(self._incoming),
                        self.overrunning,
                    )
                self._condition.wait()
            if self._closed:
                raise RuntimeError("The question runner is closed.")
            future: futures.Future[PendingAnswer | None] = futures.Future()
            if accept_in_background:
                self._incoming.append((question, future))
                if self._acceptor is None:
                    self._acceptor = threading.Thread(target=self._accept_incoming, name="octue-beam-accept",
                                                      daemon=True)
                    self._acceptor.start()
                self._incoming_ready.notify()
                return future
        self._accept(question, future)
        return future

    def _accept(self, question: Question, future: "futures.Future[PendingAnswer | None]") -> None:
        """Accept the question and queue it for a slot (a duplicate's future gets None)."""
        accepted = self.answerer.accept(question)
        if accepted is None:
            future.set_result(None)
            return
        with self._condition:
            self._queue.append(_Entry(accepted, future))
            if self._busy >= self.slots:
                logger.debug(
                    "Question %s waits for a slot (%d running, %d queued).",
                    accepted.question_uuid,
                    self._busy,
                    len(self._queue),
                )
            self._dispatch()

    def _accept_incoming(self) -> None:
        """The accepting thread: accept submitted questions in order, until the runner is closed and none is left
        (a question taken before `close` is still acknowledged, so the journal knows it is in flight)."""
        while True:
            with self._condition:
                while not self._incoming and not self._closed:
                    self._incoming_ready.wait()
                if not self._incoming:
                    return
                question, future = self._incoming.popleft()
            try:
                self._accept(question, future)
            except BaseException as error:  # `accept` never raises; never leave a future pending anyway
                logger.exception("Could not accept question %s.", question.question_uuid)
                if not future.done():
                    future.set_exception(error)

    @property
    def queued(self) -> int:
        """Questions waiting for a slot (accepted, or submitted to be accepted in the background)."""
        with self._condition:
            return len(self._queue) + len(self._incoming)

    @property
    def overrunning(self) -> int:
        """Threads whose question was ended at its time limit but whose app still runs."""
        with self._condition:
            return sum(entry.expired for entry in self._running)

    def close(self, wait: bool = False) -> None:
        """Take no more questions; with `wait`, wait until every queued and running question has its answer (each
        within its time limit). Overrunning threads are never waited for."""
        with self._condition:
            if wait:
                while self._incoming or self._queue or any(not entry.expired for entry in self._running):
                    self._condition.wait()
            self._closed = True
            self._condition.notify_all()
            self._incoming_ready.notify_all()
            self._deadline_changed.notify_all()
            self._next_ready.notify_all()
            supervisor, acceptor = self._supervisor, self._acceptor
        for thread in (acceptor, supervisor):
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=5)

    # --- inside -------------------------------------------------------------------------------------------------

    def _dispatch(self) -> None:
        """Start queued questions while slots are free, leaving to idle threads as many as there are of them, and the
        slots they will take (called holding the condition: a woken idle thread takes its question only once it has
        the lock again, so a new thread must not take its slot meanwhile)."""
        while len(self._queue) > self._idle and self._busy + self._idle < self.slots and not self._closed:
            entry = self._queue.popleft()
            thread = threading.Thread(target=self._run, args=(entry,), name=_thread_name(entry), daemon=True)
            self._start(entry, thread)
            thread.start()
        if len(self._queue) + len(self._incoming) < self.max_queued_questions and self._queue_full_logged:
            self._queue_full_logged = False
            logger.info("Taking questions again (%d queued).", len(self._queue))
        if self._queue and self._idle:
            self._next_ready.notify(min(len(self._queue), self._idle))
        self._condition.notify_all()

    def _start(self, entry: _Entry, thread: threading.Thread) -> None:
        """Give `entry` a slot, its deadline and the thread that runs it (called holding the condition)."""
        self._busy += 1
        entry.holds_slot = True
        entry.thread = thread
        if self.question_timeout is not None:
            entry.deadline = self._clock() + self.question_timeout
            if entry.deadline < self._supervisor_waits_until:
                self._deadline_changed.notify()
        self._running.add(entry)
        if self.question_timeout is not None and self._supervisor is None:
            self._supervisor = threading.Thread(target=self._supervise, name="octue-beam-time-limits", daemon=True)
            self._supervisor.start()

    def _take_next(self) -> _Entry | None:
        """The next queued question, started in this thread, when a slot is free (called holding the condition)."""
        if not self._queue or self._busy >= self.slots or self._closed:
            return None
        entry = self._queue.popleft()
        self._start(entry, threading.current_thread())
        return entry

    def _wait_for_next(self) -> _Entry | None:
        """The next queued question, started in this thread, if one comes within `IDLE_THREAD_SECONDS` (the thread
        was counted idle by `_run` already)."""
        deadline = time.monotonic() + IDLE_THREAD_SECONDS
        with self._condition:
            try:
                while True:
                    entry = self._take_next()  # before giving up: `_dispatch` left a question to this thread
                    remaining = deadline - time.monotonic()
                    if entry is not None or self._closed or remaining <= 0:
                        return entry
                    self._next_ready.wait(remaining)
            finally:
                self._idle -= 1

    def _run(self, entry: _Entry | None) -> None:
        """The thread of one question: run its app, then give back its slot (unless its time limit already did).

        When its answer is settled at once (the sink took the final event: always in a batch), the thread then runs
        the next queued question itself instead of starting a thread for it, which cost a busy runner a third of its
        time per question (waiting for each new thread to get the interpreter's lock and say it started); when none is
        queued yet, it waits for one a little (`IDLE_THREAD_SECONDS`) before it ends."""
        while entry is not None:
            pending = following = None
            waits = False  # counted idle: it will wait for a next question
            try:
                pending = entry.accepted.run()
            finally:
                reuse = pending is not None and pending.settled
                with self._condition:
                    self._running.discard(entry)
                    if entry.expired:
                        logger.warning(
                            "The app of question %s ended %.1f s after its time limit (%d threads still overrunning).",
                            entry.accepted.question_uuid,
                            self._clock() - entry.deadline,
                            sum(other.expired for other in self._running),
                        )
                    self._release(entry)
                    if reuse:
                        following = self._take_next()
                        # Idle from now on, so that a question submitted before it waits is left to it, not given a
                        # new thread (`_wait_for_next` looks at the queue before it waits).
                        waits = following is None
                        self._idle += waits
                    self._dispatch()
            try:
                if pending is not None:
                    entry.future.set_result(pending)
                    # The slot is free; this thread now waits for the sink, so that a final event it refuses is
                    # replaced by an exception at once, not when a transport gets round to `wait()` (the local runner's
                    # DoFn only does in a later bundle, which may never come when the service then receives nothing).
                    pending.wait()
            except BaseException:
                if waits:
                    with self._condition:
                        self._idle -= 1
                        self._dispatch()
                raise
            if waits:
                following = self._wait_for_next()
            if following is not None:
                threading.current_thread().name = _thread_name(following)
            entry = following

    def _release(self, entry: _Entry) -> None:
        if entry.holds_slot:
            entry.holds_slot = False
            self._busy -= 1

    def _supervise(self) -> None:
        """End running questions at their deadlines (one thread for every question of the runner)."""
        while True:
            with self._condition:
                while not self._closed:
                    now = self._clock()
                    due = [entry for entry in self._running if not entry.expiring]
                    overdue = [entry for entry in due if entry.deadline <= now]
                    if overdue:
                        break
                    next_deadline = min((entry.deadline for entry in due), default=None)
                    self._supervisor_waits_until = float("inf") if next_deadline is None else next_deadline
                    self._deadline_changed.wait(None if next_deadline is None else max(0.0, next_deadline - now))
                    self._supervisor_waits_until = float("-inf")  # awake: it looks at every deadline anyway
                if self._closed:
                    return
                for entry in overdue:
                    entry.expiring = True
                stacks = sys._current_frames()  # where each app is stuck: the exception's traceback
            for entry in overdue:
                pending = entry.accepted.expire(self.question_timeout, stacks.get(entry.thread.ident))
                if pending is None:  # its app ended just in time: its own thread gives the slot back
                    continue
                with self._condition:
                    entry.expired = True
                    if entry in self._running:
                        self._free_slot_of_overrunning(entry)
                    self._dispatch()
                entry.future.set_result(pending)

    def _free_slot_of_overrunning(self, entry: _Entry) -> None:
        """Give the slot of a question ended at its time limit to the next one, unless too many threads overrun."""
        overrunning = sum(other.expired for other in self._running)
        if overrunning <= self.max_overrunning_threads:
            self._release(entry)
            logger.warning(
                "Question %s reached its time limit of %g s; its slot is free and its app runs on in an overrunning "
                "thread (%d overrunning).",
                entry.accepted.question_uuid,
                self.question_timeout,
                overrunning,
            )
        else:
            logger.error(
                "%d threads are overrunning their time limit (at most %d may): the slot of question %s stays taken "
                "until its app ends. An app is stuck: fix it or restart the service.",
                overrunning,
                self.max_overrunning_threads,
                entry.accepted.question_uuid,
            )


def _thread_name(entry: _Entry) -> str:
    return f"octue-beam-question-{entry.accepted.question_uuid}"
