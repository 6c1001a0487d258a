"""One pushed message in, one HTTP status out: `PushHandler`, the Cloud Run transport's adapter over the answering core.

It does what the Beam DoFns do (`octue_beam.pipeline.transforms`), with the same core: `check_message` sorts the
message (not for this service / broken / a question), `Answerer.reject` answers a broken question, and a question
goes to the `QuestionRunner` (slots, queue, time limits), whose `PendingAnswer.wait()` returns once the publisher
accepted its final event. Only then is the request answered 2xx, so Pub/Sub deletes the message only once its
question is answered: a message whose request fails (the instance stopped, the connection dropped) is pushed again.

What differs from the pipeline, and why this module keeps its own map of questions in flight:

- **Redeliveries while a question runs.** A push subscription's ack deadline is at most 600 s: Pub/Sub pushes a
  question that runs longer again, while the first request still waits. The Answerer's seen set would acknowledge
  that redelivery at once (its question is not answered yet, and Pub/Sub would then forget it); instead a
  redelivery of a question still running here waits for the first delivery's outcome and returns the same status.
  A redelivery of a question answered earlier is acknowledged (2xx) without a second run.
- **Deduplication is per instance** (per process: `serve` runs one worker process). Cloud Run may route a redelivery
  to another instance, which has not seen the question and runs it again; the parent then gets a second answer
  from a second run (the pipeline on Dataflow has the same limit across workers, minus what `id_label` catches).
- **Messages for other services** are acknowledged without an answer: the subscription's filter keeps them away in
  the cloud, but the emulator ignores filters and pushes every message on the topic, answers included.
- **An answer that may not have been sent** (the publisher failed for good after its retries, e.g. the topic is
  missing) makes the request a 503, so that Pub/Sub pushes the question again: to this instance, which has seen it
  and acknowledges it without a second run, or to another one, which answers it again.
- **Stopping.** After `stop_taking_questions()` (SIGTERM) a new question is refused with 503 so that Pub/Sub pushes
  it again to an instance that stays; questions already running finish if they can.
"""

import dataclasses
import logging
import threading
from concurrent import futures

from octue_beam.answering.checking import check_message
from octue_beam.answering.core import DEFAULT_HEARTBEAT_INTERVAL, Answerer, PendingAnswer
from octue_beam.answering.runner import DEFAULT_MAX_CONCURRENT_QUESTIONS, QuestionRunner
from octue_beam.answering.seen import SeenSet
from octue_beam.answering.values import Question, Rejection
from octue_beam.messaging.attributes import PARENT
from octue_beam.messaging.parsing import MAX_MESSAGE_BYTES, best_effort_question_attributes
from octue_beam.messaging.publishing import Publisher, refused
from octue_beam.messaging.timeouts import DEFAULT_QUESTION_TIMEOUT
from octue_beam.push.envelopes import PushedMessage

logger = logging.getLogger(__name__)

#: Questions accepted beyond the running ones, waiting for a slot (each holds one request open meanwhile).
DEFAULT_MAX_QUEUED_QUESTIONS = 100
DEFAULT_SEEN_QUESTIONS = 50_000
DEFAULT_SEEN_TTL = 3600.0

__all__ = [
    "DEFAULT_HEARTBEAT_INTERVAL",
    "DEFAULT_MAX_CONCURRENT_QUESTIONS",
    "DEFAULT_MAX_QUEUED_QUESTIONS",
    "DEFAULT_QUESTION_TIMEOUT",
    "Outcome",
    "PushHandler",
]


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What the push request is answered with: an HTTP status and a one-line reason (the response body)."""

    status: int
    reason: str

    @property
    def acknowledged(self) -> bool:
        """Whether Pub/Sub takes the message as delivered (any 2xx); otherwise it pushes it again later."""
        return 200 <= self.status < 300


class PushHandler:
    """Answers the pushed messages of one service revision (`sruid`) with `answerer` and `runner`. Thread-safe: the
    HTTP server calls `handle` from one thread per request."""

    def __init__(
        self,
        answerer: Answerer,
        runner: QuestionRunner,
        sruid: str,
        *,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
    ) -> None:
        self.answerer = answerer
        self.runner = runner
        self.sruid = sruid
        self.max_message_bytes = max_message_bytes
        self._lock = threading.Lock()
        self._in_flight: dict[tuple[str, int], futures.Future[Outcome]] = {}
        self._stopping = False

    @classmethod
    def load(
        cls,
        service_dir: str,
        sruid: str,
        publisher: Publisher,
        *,
        revision_tag: str | None = None,
        service_name: str | None = None,
        secrets_project: str | None = None,
        heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL,
        max_concurrent_questions: int = DEFAULT_MAX_CONCURRENT_QUESTIONS,
        max_queued_questions: int = DEFAULT_MAX_QUEUED_QUESTIONS,
        question_timeout: float | None = None,
        seen_capacity: int = DEFAULT_SEEN_QUESTIONS,
        seen_ttl: float = DEFAULT_SEEN_TTL,
    ) -> "PushHandler":
        """Load the service once (`Answerer.load`: a service that cannot load answers every question with its
        error; `service_name` chooses one of several in octue.yaml) and start its `QuestionRunner`.
        `question_timeout` None: octue.yaml's `question_timeout`, else `DEFAULT_QUESTION_TIMEOUT`."""
        answerer = Answerer.load(
            service_dir,
            publisher,
            sruid=sruid,
            revision_tag=revision_tag,
            service_name=service_name,
            secrets_project=secrets_project,
            heartbeat_interval=heartbeat_interval,
            seen=SeenSet(seen_capacity, seen_ttl),
        )
        runner = QuestionRunner(
            answerer,
            max_concurrent_questions,
            question_timeout=time_limit(question_timeout, answerer),
            max_queued_questions=max_queued_questions,
        )
        return cls(answerer, runner, sruid)

    # --- requests -------------------------------------------------------------------------------------------------

    def handle(self, message: PushedMessage) -> Outcome:
        """Sort the message and answer it; returns once its question is answered (or it is rejected or ignored)."""
        checked = check_message(
            message.data, message.attributes, self.sruid, self.max_message_bytes, message.message_id
        )
        if checked is None:
            return self._ignore(message)
        if isinstance(checked, Rejection):
            return self._reject(checked)
        return self._answer(checked)

    def _ignore(self, message: PushedMessage) -> Outcome:
        recipient = message.attributes.get("recipient")
        question_uuid = message.attributes.get("question_uuid")
        what = f"message {message.message_id}" + (f" (question {question_uuid})" if question_uuid else "")
        if recipient == self.sruid:  # addressed here but sent by a child (an answer to one of our own questions)
            reason = f"Ignored {what}: it is a {message.attributes.get('sender_type')} event, not a parent's question."
        else:
            reason = f"Ignored {what}: it is for {recipient!r}, not {self.sruid}."
        # A question for another service is worth a line; the events services send (on the emulator, which ignores
        # the subscription's filter, every answer on the topic is pushed here too) are not.
        parents_question = message.attributes.get("sender_type", PARENT) == PARENT
        logger.log(logging.INFO if parents_question else logging.DEBUG, "%s", reason)
        return Outcome(200, reason)

    def _reject(self, rejection: Rejection) -> Outcome:
        """Answer a broken question with an exception when it says who asked; the reject is final (2xx) unless that
        exception could not be sent (503: Pub/Sub pushes it again)."""
        answerable = best_effort_question_attributes(rejection.attributes) is not None
        if self.answerer.reject(rejection):  # logs the rejection itself
            return Outcome(200, f"Rejected message {rejection.message_id} with an exception: {rejection.reason}")
        if answerable:
            return Outcome(503, f"Could not send the rejection of message {rejection.message_id}; push it again.")
        return Outcome(200, f"Rejected message {rejection.message_id}, which says nobody to answer: {rejection.reason}")

    def _answer(self, question: Question) -> Outcome:
        key = question.key
        with self._lock:
            first = self._in_flight.get(key)
            if first is None:
                if key in self.answerer.seen:
                    return self._answered_before(question)
                if self._stopping:
                    return Outcome(503, f"Not taking question {question.question_uuid}: this instance is stopping.")
                delivery: futures.Future[Outcome] = futures.Future()
                self._in_flight[key] = delivery
        if first is not None:
            return self._wait_for_first(question, first)
        outcome = Outcome(500, f"Question {question.question_uuid} could not be answered here.")
        try:
            outcome = self._run(question)
        finally:
            with self._lock:
                del self._in_flight[key]
            delivery.set_result(outcome)
        return outcome

    def _run(self, question: Question) -> Outcome:
        """Hand the question to the runner and wait until its final event is accepted by the publisher."""
        try:
            started = self.runner.submit(question)
        except RuntimeError as error:  # the runner is closed: the instance is stopping
            return Outcome(503, f"Not taking question {question.question_uuid}: {error}")
        pending = started.result()
        if pending is None:  # the seen set caught it (it was taken between our check and the runner's)
            return self._answered_before(question)
        answer = pending.wait()
        failure = not_sent(pending)
        if failure is not None:  # logged by `wait`; a redelivery to this instance is acknowledged (it was seen here)
            return Outcome(
                503,
                f"The {answer.kind} of question {question.question_uuid} may not have been sent "
                f"({type(failure).__name__}: {failure}).",
            )
        article = "an" if str(answer.kind)[:1] in "aeiou" else "a"
        return Outcome(200, f"Answered question {question.question_uuid} with {article} {answer.kind}.")

    def _wait_for_first(self, question: Question, first: "futures.Future[Outcome]") -> Outcome:
        logger.info(
            "A redelivery of question %s (retry %s) waits for the delivery already answering it.", *question.key
        )
        outcome = first.result()
        logger.info(
            "The redelivery of question %s (retry %s) waited for the first delivery: %s",
            *question.key,
            outcome.reason,
        )
        return Outcome(outcome.status, f"{outcome.reason} (a redelivery: it waited for the first delivery)")

    def _answered_before(self, question: Question) -> Outcome:
        logger.info(
            "Question %s (retry %s) was already answered here: acknowledged without a second run.", *question.key
        )
        return Outcome(200, f"Question {question.question_uuid} was already answered here.")

    # --- lifetime -------------------------------------------------------------------------------------------------

    @property
    def in_flight(self) -> int:
        """Questions being answered (queued or running) by a request of this handler."""
        with self._lock:
            return len(self._in_flight)

    def stop_taking_questions(self) -> None:
        """Refuse new questions with 503 from now on (redeliveries of running ones still wait for them)."""
        with self._lock:
            self._stopping = True

    def close(self) -> None:
        """Take no more questions, stop the runner and the heartbeat clock, and close the publisher (it sends what
        is queued). Questions still running are not waited for."""
        self.stop_taking_questions()
        self.runner.close()
        self.answerer.close()
        try:
            self.answerer.publisher.close()
        except Exception:  # closing is best effort
            logger.exception("Could not close the publisher.")


def not_sent(pending: PendingAnswer) -> BaseException | None:
    """Why the final event of a question `PendingAnswer.wait()` returned for may not have reached Pub/Sub, or None
    when the publisher accepted it (or refused it for good, and `wait` sent the exception replacing it)."""
    future = pending.future
    if future is None:
        return None
    if not future.done():
        return TimeoutError("the publisher did not confirm it in time")
    error = future.exception()
    return None if error is None or refused(error) else error


def time_limit(question_timeout: float | None, answerer: Answerer) -> float:
    """The time limit per question: `question_timeout`, else the service's octue.yaml, else the default."""
    return answerer.time_limit(question_timeout)
