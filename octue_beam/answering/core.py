"""The answering core: a parsed question in, its events out through an event sink, whatever the transport.

`Answerer.answer(question)` does everything between a `Question` and its parent: the duplicate check, the delivery
acknowledgement, heartbeats, forwarding the question's logs (when it asks for them), running the app on an Analysis
(`octue_beam.service.running.answer`: validation, the app, outputs, diagnostics) and exactly one final `result` or
`exception`. No error escapes: an invalid input, an app crash, invalid outputs, a failed upload or a service that
could not be loaded all become `exception` events. `Answerer.reject(rejection)` answers a broken question with an
`exception` when it says who asked.

`answer` is two steps a transport may also take apart: `Answerer.accept(question)` (the duplicate check, the
acknowledgement and heartbeats: the parent knows its question arrived, even while it waits for a free slot) and
`AcceptedQuestion.run()` (the app and the final event). `AcceptedQuestion.expire(...)` ends a question that outran
its time limit with a `QuestionTimeLimitExceeded` exception; whichever of `run` and `expire` ends it first sends the
only final event, and the emitter refuses everything the app's thread sends after it.

The transports are thin adapters over it: the Beam DoFns (`octue_beam.pipeline`), and the push handler and batch
pipeline to come. Each gives it a `Publisher` (Pub/Sub, or `MemoryPublisher` in unit tests).
"""

import contextlib
import logging
import threading
import time
import traceback
from concurrent import futures
from types import FrameType
from typing import Any

from octue_beam import __version__
from octue_beam.answering.emitting import QuestionEmitter
from octue_beam.answering.heartbeats import Heartbeats
from octue_beam.answering.seen import SeenSet
from octue_beam.answering.values import Answer, Question, Rejection
from octue_beam.context import routing_logs
from octue_beam.exceptions import InvalidEvent, QuestionTimeLimitExceeded
from octue_beam.messaging import events
from octue_beam.messaging.attributes import SAVE_DIAGNOSTICS_ON_CRASH, response_attributes
from octue_beam.messaging.parsing import best_effort_question_attributes
from octue_beam.messaging.publishing import Publisher, refused
from octue_beam.messaging.timeouts import DEFAULT_QUESTION_TIMEOUT
from octue_beam.resources import cache
from octue_beam.service.loading import Service, load_service
from octue_beam.service.running import answer

logger = logging.getLogger(__name__)

DEFAULT_HEARTBEAT_INTERVAL = 60.0
DEFAULT_PUBLISH_TIMEOUT = 60.0


class PendingAnswer:
    """A question whose final event was handed to the sink; `wait()` returns its `Answer` once the sink took it.

    Answering and waiting for the final publish are two steps so that the thread answering a question is free for
    the next one while the publisher sends (the publisher batches the final events of many questions).
    """

    def __init__(
        self, emitter: QuestionEmitter, final: dict, future: futures.Future | None, started_at: float | None = None
    ) -> None:
        self.emitter = emitter
        self.final = final
        self.future = future
        self.started_at = started_at  # `time.perf_counter()` when its app started (None: it never did)
        self._lock = threading.Lock()
        self._answer: Answer | None = None

    @property
    def question_uuid(self) -> str | None:
        return self.emitter.question_uuid

    @property
    def settled(self) -> bool:
        """Whether `wait()` would return at once: the sink already took the final event (or refused it)."""
        return self._answer is not None or (self.future is not None and self.future.done())

    def wait(self) -> Answer:
        """Wait until the sink accepted the final event. If the sink refused it for good (too big for Pub/Sub, not
        serialisable, invalid: `messaging.publishing.refused`), send an `exception` saying so instead. After a timeout
        or a transient error the final event may still arrive, so it is never replaced (the parent would get a result
        and then an exception): the wait goes on a few rounds, then the failure is logged. Never raises; returns the
        final event that was sent (or may have been). Any thread may call it, any number of times: the replacement is
        sent once, by the first call."""
        with self._lock:
            if self._answer is None:
                self._answer = self._wait()
            return self._answer

    def _wait(self) -> Answer:
        emitter, final = self.emitter, self.final
        rounds = 4  # the publisher's own retries end well within this many publish timeouts
        try:
            if self.future is None:  # handing the final event to the sink failed: `final` already says why
                self.future = emitter.finish(final)
            for round_ in range(1, rounds + 1):
                try:
                    self.future.result(timeout=emitter.publish_timeout)
                    break
                except futures.TimeoutError:
                    if round_ == rounds:
                        raise
                    logger.warning(
                        "The %s of question %s is not confirmed after %.0f s; still waiting.",
                        final.get("kind"), self.question_uuid, round_ * emitter.publish_timeout,
                    )
        except Exception as error:  # noqa: BLE001 - sorted here: refused (replaced) or maybe sent (logged)
            if not refused(error):
                logger.error(
                    "The %s of question %s may not have been sent (%s: %s); it is not replaced by an exception, since "
                    "it may still arrive.", final.get("kind"), self.question_uuid, type(error).__name__, error,
                )
                return Answer(final, emitter.attributes)
            logger.error(
                "Could not publish the %s of question %s: %s: %s", final.get("kind"), self.question_uuid,
                type(error).__name__, error,
            )
            final = _not_sent(error)
            try:
                emitter.finish(final).result(timeout=emitter.publish_timeout)
            except Exception:  # nothing more can be done; the parent will time out
                logger.exception("Could not publish the exception of question %s either.", self.question_uuid)
        return Answer(final, emitter.attributes)


def _not_sent(error: BaseException) -> dict:
    """The `exception` that replaces a final event the sink refused."""
    final = events.exception(error)
    final["exception_message"] = f"The answer could not be sent: {final['exception_message']}"
    return final


class Answerer:
    """Answers the questions of one loaded service (or answers each with the error that stopped it loading)."""

    def __init__(
        self,
        service: Service | None,
        publisher: Publisher,
        *,
        load_error: BaseException | None = None,
        heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL,
        publish_timeout: float = DEFAULT_PUBLISH_TIMEOUT,
        seen: SeenSet | None = None,
    ) -> None:
        if service is None and load_error is None:
            raise ValueError("An Answerer needs a loaded service or the error that stopped it loading.")
        self.service = service
        self.load_error = load_error
        self.publisher = publisher
        self.heartbeat_interval = heartbeat_interval
        self.publish_timeout = publish_timeout
        self.seen = seen if seen is not None else SeenSet()
        self.heartbeats = Heartbeats()

    @classmethod
    def load(
        cls,
        service_dir: str,
        publisher: Publisher,
        *,
        sruid: str | None = None,
        revision_tag: str | None = None,
        secrets_project: str | None = None,
        service_name: str | None = None,
        **options: Any,
    ) -> "Answerer":
        """Load the service in `service_dir` once (app, twine, configuration, credentials from `secrets_project`;
        `service_name` chooses one when its octue.yaml lists several).

        A service that cannot be loaded, or is not the `sruid` expected, is kept as the error every question is
        answered with: the transport keeps serving and each parent learns why at once.
        """
        try:
            service = load_service(
                service_dir, revision_tag=revision_tag, project=secrets_project, service_name=service_name
            )
            if sruid is not None and service.sruid != sruid:
                raise ValueError(
                    f"The service in {service_dir!r} here is {service.sruid!r}, but questions are read for {sruid!r}: "
                    "check --service_dir and --revision_tag."
                )
        except Exception as error:  # every question gets this error as its answer
            logger.exception(
                "Could not load the service in %r; every question will be answered with this error.", service_dir
            )
            return cls(None, publisher, load_error=error, **options)
        return cls(service, publisher, **options)

    def time_limit(self, question_timeout: float | None = None) -> float:
        """The time limit per question: `question_timeout` (the transport's option), else the service's octue.yaml
        `question_timeout`, else the default (`messaging.timeouts.DEFAULT_QUESTION_TIMEOUT`)."""
        if question_timeout is not None:
            return float(question_timeout)
        configured = getattr(getattr(self.service, "configuration", None), "question_timeout", None)
        return float(configured) if configured is not None else DEFAULT_QUESTION_TIMEOUT

    def answer(self, question: Question) -> PendingAnswer | None:
        """Answer one question, sending its events; None (nothing sent) for a duplicate delivery. Never raises.

        The final event is handed to the sink but not waited for: `PendingAnswer.wait()` does that.
        """
        accepted = self.accept(question)
        return None if accepted is None else accepted.run()

    def accept(self, question: Question) -> "AcceptedQuestion | None":
        """Take a question on: its delivery acknowledgement and heartbeats start now (they keep the parent waiting
        while the question waits for a slot); None (nothing sent) for a duplicate delivery. Never raises."""
        if not self.seen.add(question.key):
            logger.info("Ignoring a duplicate delivery of question %s (retry %s).", *question.key)
            return None
        emitter = QuestionEmitter(
            self.publisher, response_attributes(question.attributes, __version__), publish_timeout=self.publish_timeout
        )
        emitter.send(events.delivery_acknowledgement())  # never raises: a lost event is logged
        try:
            self.heartbeats.start(emitter, self.heartbeat_interval)
        except Exception:  # a missing heartbeat clock must not lose the question
            logger.exception("Could not start the heartbeats of question %s.", question.question_uuid)
        return AcceptedQuestion(self, question, emitter)

    def _run(self, question: Question, emitter: QuestionEmitter) -> dict:
        """The final event of the question: its result, or the exception that ended it."""
        attributes, event = question.attributes, question.event
        question_uuid = question.question_uuid

        def forward_log(record: logging.LogRecord) -> None:
            emitter.send(events.log_record(record))

        try:
            if self.service is None:
                raise self.load_error
            # Temporary local copies (downloaded inputs, output datasets) are deleted when the question ends. `answer`
            # runs the app in the question's context, so its logs and its children's monitor messages reach the parent.
            with cache.scope(question_uuid):
                with (
                    routing_logs(question_uuid, forward_log)
                    if attributes.get("forward_logs")
                    else contextlib.nullcontext()
                ):
                    analysis = answer(
                        self.service,
                        question_uuid=question_uuid,
                        input_values=event.get("input_values"),
                        input_manifest=event.get("input_manifest"),
                        children=event.get("children"),
                        handle_monitor_message=lambda data: emitter.send(events.monitor_message(data)),
                        parent_question_uuid=attributes.get("parent_question_uuid"),
                        originator_question_uuid=attributes.get("originator_question_uuid"),
                        originator=attributes.get("originator"),
                        retry_count=attributes.get("retry_count", 0),
                        save_diagnostics=attributes.get("save_diagnostics") or SAVE_DIAGNOSTICS_ON_CRASH,
                    )
                return analysis.result_event()
        except BaseException as error:  # noqa: BLE001 - app errors (even SystemExit) become exception events
            logger.warning("Question %s failed: %s: %s", question_uuid, type(error).__name__, error)
            return events.exception(error)

    def reject(self, rejection: Rejection) -> bool:
        """Send an `exception` answer to the sender of a broken question if it says who asked; whether one was sent."""
        question = best_effort_question_attributes(rejection.attributes)
        if question is None:
            logger.warning(
                "Rejected a message for this service that does not say who asked (message %s): %s",
                rejection.message_id,
                rejection.reason,
            )
            return False
        logger.warning(
            "Rejected question %s from %s: %s", question["question_uuid"], question["sender"], rejection.reason
        )
        error = InvalidEvent(f"The question was rejected by {question['recipient']}: {rejection.reason}")
        try:
            self.publisher.publish(events.exception(error), response_attributes(question, __version__), wait=True)
            return True
        except Exception:  # nothing stops the service
            logger.exception("Could not send the rejection of question %s.", question["question_uuid"])
            return False

    def close(self) -> None:
        """Stop the heartbeat clock. The publisher belongs to whoever gave it."""
        self.heartbeats.close()


class AcceptedQuestion:
    """A question the `Answerer` accepted (acknowledged, heartbeats running) and has not yet ended.

    `run()` answers it in the calling thread; `expire(limit)` ends it at its time limit from another thread. The
    first of the two to end it sends its only final event; the other gets None.
    """

    def __init__(self, answerer: Answerer, question: Question, emitter: QuestionEmitter) -> None:
        self.answerer = answerer
        self.question = question
        self.emitter = emitter
        self._lock = threading.Lock()
        self._ended = False
        self.started_at: float | None = None  # `time.perf_counter()` when `run` started its app

    @property
    def question_uuid(self) -> str:
        return self.question.question_uuid

    @property
    def ended(self) -> bool:
        return self._ended

    def run(self) -> PendingAnswer | None:
        """Run the app and send the final event; None if the question was already ended (by `expire`)."""
        if self._ended:  # ended while it waited for a slot: do not start the app at all
            return None
        self.started_at = time.perf_counter()
        try:
            final = self.answerer._run(self.question, self.emitter)
        except BaseException as error:  # noqa: BLE001 - `_run` turns errors into events; be safe anyway
            final = events.exception(error)
        pending = self._end(final)
        if pending is None:
            logger.warning(
                "Question %s ended with a %s after its time limit; the parent was already sent the time-limit "
                "exception, so it is dropped.",
                self.question_uuid,
                final.get("kind"),
            )
        return pending

    def expire(self, limit: float, stack: FrameType | None = None) -> PendingAnswer | None:
        """End the question with a `QuestionTimeLimitExceeded` exception (the limit in seconds; `stack` is the frame
        the app's thread is in, sent as the exception's traceback); None if it already ended."""
        final = time_limit_exception(self.question_uuid, limit, stack)
        pending = self._end(final)
        if pending is not None:
            logger.warning("%s", final["exception_message"])
        return pending

    def _end(self, final: dict) -> PendingAnswer | None:
        with self._lock:
            if self._ended:
                return None
            self._ended = True
        self.answerer.heartbeats.stop(self.question_uuid)
        try:
            return PendingAnswer(self.emitter, final, self.emitter.finish(final), self.started_at)
        except BaseException as error:  # the sink refused the final event (e.g. not serialisable)
            logger.exception("Could not publish the answer of question %s.", self.question_uuid)
            return PendingAnswer(self.emitter, _not_sent(error), None, self.started_at)


def time_limit_exception(question_uuid: str, limit: float, stack: FrameType | None = None) -> dict:
    """The `exception` event of a question stopped at its time limit, saying how to raise the limit; its traceback is
    where the app was when it was stopped (when known)."""
    error = QuestionTimeLimitExceeded(
        f"Question {question_uuid} was stopped after running for {limit:g} s, the service's time limit per question. "
        "Raise the limit with `question_timeout: <seconds>` in the service's octue.yaml or the pipeline option "
        "--question_timeout."
    )
    final = events.exception(error)
    if stack is not None:
        final["exception_traceback"] = traceback.format_stack(stack)
    return final

