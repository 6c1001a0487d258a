"""Waiting for many questions at once in ONE thread: the caller's.

The answer listener puts every event of the questions registered with a queue on that queue; a `Waiter` reads the
queue, hands each event to its question, runs the watchdogs and retries failed attempts. One `ask` is a waiter
with one question; `ask_multiple` is a waiter with many, so no thread per question is needed.
"""

import dataclasses
import logging
import math
import queue
import time
from collections.abc import Callable, Iterable

from octue_beam.asking.answers import ListenerFailed
from octue_beam.asking.questions import Question

logger = logging.getLogger(__name__)

MAX_BLOCK_SECONDS = 3600  # a queue wait cannot be infinite

Resend = Callable[[Question, queue.Queue], None]
#: `check_delivery(question)`: the error to fail an attempt that nobody can receive with, or None (`asking.delivery`).
CheckDelivery = Callable[[Question], BaseException | None]


@dataclasses.dataclass
class PublishFailed:
    """Put on a waiter's queue when a question sent without waiting could not be published."""

    question_uuid: str
    retry_count: int
    error: BaseException


class Waiter:
    """Questions waiting on one events queue. `resend(question, failures_queue)` publishes a retry without waiting
    (and calls `question.started`); publishing failures come back on the queue as `PublishFailed`.

    With `check_delivery`, an attempt that has heard nothing for `delivery_check_seconds` (or reaches its deadline
    first) is checked once: if `check_delivery(question)` returns an error (nobody can receive the question), the
    attempt fails with it at once instead of waiting out its timeout in silence.
    """

    def __init__(self, events_queue: queue.Queue, resend: Resend, check_delivery: CheckDelivery | None = None,
                 delivery_check_seconds: float = 10.0) -> None:
        self.queue = events_queue
        self.resend = resend
        self.check_delivery = check_delivery
        self.delivery_check_seconds = delivery_check_seconds
        self.pending: dict[str, Question] = {}
        self._next_check = math.inf

    def _next_for(self, question: Question) -> float:
        """When the watchdogs must next look at `question`."""
        if self.check_delivery is None:
            return question.deadline()
        return min(question.deadline(), question.delivery_check_at(self.delivery_check_seconds))

    def add(self, question: Question) -> None:
        """Wait for `question` too (already sent and started)."""
        self.pending[question.question_uuid] = question
        self._next_check = min(self._next_check, self._next_for(question))

    def add_all(self, questions: Iterable[Question]) -> None:
        for question in questions:
            self.add(question)

    def wait(self, until: float = math.inf, return_on_finish: bool = False) -> list[Question]:
        """Handle events until no question is pending, the monotonic time `until` is reached, or (with
        `return_on_finish`) a question has finished. Returns the questions that finished meanwhile."""
        finished: list[Question] = []
        while self.pending:
            if return_on_finish and finished:
                return finished
            now = time.monotonic()
            if now >= self._next_check or now >= until:
                # Events that arrived already come first (they carry their arrival time), then the watchdogs.
                try:
                    self._handle(self.queue.get_nowait(), finished)
                    continue
                except queue.Empty:
                    pass
                if now >= self._next_check:
                    self._check_deadlines(now, finished)
                    continue
                return finished
            try:
                item = self.queue.get(timeout=min(self._next_check - now, until - now, MAX_BLOCK_SECONDS))
            except queue.Empty:
                continue
            self._handle(item, finished)
        return finished

    def _handle(self, item: object, finished: list[Question]) -> None:
        if isinstance(item, ListenerFailed):
            self._fail_all(item.error, finished)
            return
        if isinstance(item, PublishFailed):
            question = self.pending.get(item.question_uuid)
            if question is not None and question.retry_count == item.retry_count:
                self._attempt_failed(question, item.error, finished)
            return
        event, attributes, data, arrived = item
        question = self.pending.get(attributes.get("question_uuid"))
        if question is None:
            return  # a duplicate or late event of a finished question
        was_acknowledged = question.acknowledged_at is not None
        error = question.handle(event, attributes, data, arrived)
        if error is not None:
            self._attempt_failed(question, error, finished)
        elif question.done:
            del self.pending[question.question_uuid]
            finished.append(question)
        elif not was_acknowledged:
            # The acknowledgement switches to the heartbeat watchdog, whose deadline may be earlier.
            self._next_check = min(self._next_check, self._next_for(question))

    def _check_deadlines(self, now: float, finished: list[Question]) -> None:
        next_check = math.inf
        delivery_errors: dict[tuple, BaseException | None] = {}  # one check per topic and recipient per pass
        for question in list(self.pending.values()):
            error = self._delivery_error(question, now, delivery_errors)
            if error is None:
                error = question.overdue(now)
            if error is not None:
                self._attempt_failed(question, error, finished)
            if not question.done:
                next_check = min(next_check, self._next_for(question))
        self._next_check = next_check

    def _delivery_error(self, question: Question, now: float, cache: dict[tuple, BaseException | None]
                        ) -> BaseException | None:
        """The error of an attempt nobody can receive, when its delivery check is due (never raises)."""
        if self.check_delivery is None or now < question.delivery_check_at(self.delivery_check_seconds):
            return None
        question.delivery_checked = True
        key = (question.project, question.topic_name, question.emulator_host, question.service_id)
        if key not in cache:
            try:
                cache[key] = self.check_delivery(question)
            except Exception:  # the check only ever helps: waiting goes on without it
                logger.debug("The delivery check of question %s failed.", question.question_uuid, exc_info=True)
                cache[key] = None
        error = cache[key]
        return None if error is None else type(error)(*error.args)  # each question raises its own instance

    def _attempt_failed(self, question: Question, error: BaseException, finished: list[Question]) -> None:
        if question.may_retry(error):
            question.next_attempt()
            logger.warning(
                "Question %s to %s failed (%s: %s); retrying (retry %d of %d).",
                question.question_uuid, question.service_id, type(error).__name__, str(error).split("\n", 1)[0],
                question.retry_count - question.first_retry_count, question.policy.max_retries,
            )
            try:
                self.resend(question, self.queue)
            except Exception as send_error:  # noqa: BLE001 - the retry could not be sent: that is its failure
                error = send_error
            else:
                self._next_check = min(self._next_check, self._next_for(question))
                return
        question.fail(error)
        self.pending.pop(question.question_uuid, None)
        finished.append(question)

    def _fail_all(self, error: BaseException, finished: list[Question]) -> None:
        for question in list(self.pending.values()):
            failure = ConnectionError(
                f"Stopped receiving answers while waiting for question {question.question_uuid}: {error}"
            )
            failure.__cause__ = error
            question.fail(failure)
            finished.append(question)
        self.pending.clear()
