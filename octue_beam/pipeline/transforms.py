"""The stages of a service pipeline, one composite PTransform each, over the transport-free answering core:

    ReadQuestions -> CheckQuestions -> AnswerQuestions [-> RecordAnswers with --record_answers]
                         `-[invalid]-> RejectMessages -> WriteDeadLetters

Values between stages are typed (`octue_beam.answering.values`): `Question`s and `Rejection`s out of
CheckQuestions, `Answer`s out of AnswerQuestions, `DeadLetter`s out of RejectMessages. The DoFns are thin: they
acquire their process's `ServiceWorker` in `setup()` (one per process through a `ServiceWorkers` handle, which all
the stages of one pipeline share), hand each element to the core, and release the worker in `teardown()`.
"""

import base64
import logging
import time
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.io.gcp.pubsub import ReadFromPubSub
from apache_beam.transforms.window import GlobalWindows
from apache_beam.utils.timestamp import Timestamp

from octue_beam.answering.checking import check_message, message_parts
from octue_beam.answering.values import Answer, DeadLetter, Question, Rejection
from octue_beam.messaging import events
from octue_beam.pipeline.worker import ServiceWorker, ServiceWorkers, WorkerConfig

logger = logging.getLogger(__name__)

INVALID = "invalid"
METRICS_NAMESPACE = "octue_beam"


class ReadQuestions(beam.PTransform):
    """Messages (with attributes) from the service's subscription; Pub/Sub dedup by `id_label` where supported."""

    def __init__(self, subscription: str, id_label: str | None = None) -> None:
        super().__init__()
        self.subscription = subscription
        self.id_label = id_label

    def expand(self, pbegin: Any) -> Any:
        return pbegin | "ReadFromPubSub" >> ReadFromPubSub(
            subscription=self.subscription, with_attributes=True, id_label=self.id_label
        )


class CheckQuestions(beam.PTransform):
    """`Question`s for this service (main output `questions`) and `Rejection`s of broken messages for it (`invalid`);
    messages for anyone else are dropped."""

    def __init__(self, sruid: str, max_message_bytes: int) -> None:
        super().__init__()
        self.sruid = sruid
        self.max_message_bytes = max_message_bytes

    def expand(self, messages: Any) -> Any:
        return messages | "ParseAndCheck" >> beam.ParDo(_CheckMessage(self.sruid, self.max_message_bytes)).with_outputs(
            INVALID, main="questions"
        )


class AnswerQuestions(beam.PTransform):
    """Answers the questions (their events are published directly by the core); outputs the `Answer` of each.

    `wait=True` (bounded pipelines, and Dataflow: see docs/engine.md): a bundle ends once each of its questions is
    answered (within its time limit), and outputs their Answers. `wait=False` (the local streaming runner): a bundle
    only hands its questions to the worker's `QuestionRunner` and ends at once, so the runner's single thread keeps
    pulling while questions run; each bundle outputs the Answers of questions that finished since the previous one
    (the Answer output lags: an answer is output when a later bundle ends, and answers of questions that finish
    after the last bundle are never output; this output only feeds RecordAnswers, never the parents).
    """

    def __init__(self, workers: ServiceWorkers | WorkerConfig, wait: bool = True) -> None:
        super().__init__()
        self.workers = ServiceWorkers.of(workers)
        self.wait = wait

    def expand(self, questions: Any) -> Any:
        return questions | "AnswerQuestion" >> beam.ParDo(_AnswerQuestion(self.workers, self.wait))


class RecordAnswers(beam.PTransform):
    """The branch for an event store or other sinks of `Answer`s (AnswerQuestions already counts them)."""

    def expand(self, answers: Any) -> Any:
        return answers | "Record" >> beam.Map(_record)


class RejectMessages(beam.PTransform):
    """Answers broken questions with an `exception` when the sender is known; outputs `DeadLetter`s."""

    def __init__(self, workers: ServiceWorkers | WorkerConfig) -> None:
        super().__init__()
        self.workers = ServiceWorkers.of(workers)

    def expand(self, rejections: Any) -> Any:
        return rejections | "AnswerWithException" >> beam.ParDo(_RejectInvalid(self.workers))


class WriteDeadLetters(beam.PTransform):
    """Dead letters to a Pub/Sub topic (`projects/<p>/topics/<t>`) when one is given, else to the log."""

    def __init__(self, topic: str | None = None, workers: ServiceWorkers | None = None) -> None:
        super().__init__()
        if topic and workers is None:
            raise ValueError("WriteDeadLetters needs the pipeline's ServiceWorkers to publish to a topic.")
        self.topic = topic
        self.workers = workers

    def expand(self, letters: Any) -> Any:
        if self.topic:
            return letters | "Publish" >> beam.ParDo(_PublishDeadLetters(self.topic, self.workers))
        return letters | "Log" >> beam.ParDo(_LogDeadLetters())


# --- DoFns -----------------------------------------------------------------------------------------------------------


class _CheckMessage(beam.DoFn):
    def __init__(self, sruid: str, max_message_bytes: int) -> None:
        super().__init__()
        self.sruid = sruid
        self.max_message_bytes = max_message_bytes

    def setup(self) -> None:
        self._ignored = beam.metrics.Metrics.counter(METRICS_NAMESPACE, "ignored_messages")
        self._invalid = beam.metrics.Metrics.counter(METRICS_NAMESPACE, "invalid_messages")

    def process(self, message: Any) -> Iterator[Any]:
        data, attributes, message_id = message_parts(message)
        checked = check_message(data, attributes, self.sruid, self.max_message_bytes, message_id)
        if isinstance(checked, Question):
            yield checked
        elif isinstance(checked, Rejection):
            self._invalid.inc()
            yield pvalue.TaggedOutput(INVALID, checked)
        else:
            self._ignored.inc()


class _AnswerQuestion(beam.DoFn):
    """Hands each question to the worker's `QuestionRunner` (questions of a bundle run concurrently). With `wait`,
    `finish_bundle` outputs the bundle's `Answer`s once each final event was accepted by the publisher; without it,
    the Answers of every question that finished by then, whichever bundle brought it (the worker keeps them)."""

    def __init__(self, workers: ServiceWorkers, wait: bool = True) -> None:
        super().__init__()
        self.workers = workers
        self.wait = wait
        self._worker: ServiceWorker | None = None
        self._pending: list = []

    def setup(self) -> None:
        self._worker = self.workers.acquire()
        self._started = beam.metrics.Metrics.counter(METRICS_NAMESPACE, "questions_started")
        self._duplicates = beam.metrics.Metrics.counter(METRICS_NAMESPACE, "duplicate_questions")
        self._outcomes = {
            kind: beam.metrics.Metrics.counter(METRICS_NAMESPACE, f"answers_{kind}")
            for kind in (events.RESULT, events.EXCEPTION)
        }

    def start_bundle(self) -> None:
        self._pending = []

    def process(self, question: Question) -> None:
        # Without `wait` (the local runner), the runner's accepting thread sends the acknowledgement and the first
        # heartbeat, so the runner's single thread goes back to reading at once.
        future = self._worker.runner.submit(question, accept_in_background=not self.wait)
        if self.wait:
            self._pending.append(future)
        else:
            self._worker.finished.add(future)

    def finish_bundle(self) -> Iterator[Any]:
        if self.wait:
            pending, self._pending = self._pending, []
            started = []
            for future in pending:
                try:
                    started.append(future.result())
                except Exception:  # the runner never fails a future; be safe anyway
                    logger.exception("A question's answering thread failed.")
        else:
            started = self._worker.finished.take()
        for each in started:
            if each is None:
                self._duplicates.inc()
                continue
            self._started.inc()
            answer = each.wait()
            counter = self._outcomes.get(answer.kind)
            if counter is not None:
                counter.inc()
            yield GlobalWindows.windowed_value(answer, timestamp=Timestamp.of(time.time()))

    def teardown(self) -> None:
        self._worker = None


class _RejectInvalid(beam.DoFn):
    def __init__(self, workers: ServiceWorkers) -> None:
        super().__init__()
        self.workers = workers
        self._worker: ServiceWorker | None = None

    def setup(self) -> None:
        self._worker = self.workers.acquire()

    def process(self, rejection: Rejection) -> Iterator[DeadLetter]:
        self._worker.answerer.reject(rejection)
        yield DeadLetter.from_rejection(rejection)

    def teardown(self) -> None:
        self._worker = None


class _PublishDeadLetters(beam.DoFn):
    """Publishes dead letters; one that cannot be published is logged instead (nothing fails the bundle, which the
    local runner would retry 4 times and then fail the pipeline, and Dataflow would retry forever)."""

    def __init__(self, topic: str, workers: ServiceWorkers) -> None:
        super().__init__()
        self.topic = topic
        self.workers = workers
        self._worker: ServiceWorker | None = None

    def setup(self) -> None:
        self._worker = self.workers.acquire()

    def start_bundle(self) -> None:
        self._pending: list = []

    def process(self, letter: DeadLetter) -> None:
        try:
            future = self._worker.dead_letter_publisher(self.topic).publish_raw(letter.data, letter.attributes)
            self._pending.append((letter, future))
        except Exception:
            logger.exception("Could not publish a dead letter to %s; logging it instead.", self.topic)
            log_dead_letter(letter)

    def finish_bundle(self) -> None:
        pending, self._pending = self._pending, []
        for letter, future in pending:
            try:
                future.result(timeout=60)
            except Exception:
                logger.exception("Could not publish a dead letter to %s; logging it instead.", self.topic)
                log_dead_letter(letter)

    def teardown(self) -> None:
        self._worker = None


class _LogDeadLetters(beam.DoFn):
    """`log_dead_letter` of each letter (a DoFn of ours rather than a Map, so `SERVICE_DOFNS` lists it)."""

    def process(self, letter: DeadLetter) -> Iterator[DeadLetter]:
        log_dead_letter(letter)
        yield letter


#: The DoFns of a service pipeline's own stages (none keeps user state or timers; see `pipeline.local_bundles`).
SERVICE_DOFNS = (_CheckMessage, _AnswerQuestion, _RejectInvalid, _PublishDeadLetters, _LogDeadLetters)


def _record(answer: Answer) -> Answer:
    logger.debug("Answered question %s with a %s.", answer.question_uuid, answer.kind)
    return answer


def log_dead_letter(letter: DeadLetter) -> None:
    """The dead-letter output when no dead-letter topic is configured: one log line per message."""
    preview = letter.data[:200]
    try:
        shown = preview.decode()
    except UnicodeDecodeError:
        shown = "base64:" + base64.b64encode(preview).decode()
    logger.warning(
        "Dead letter (%s): attributes=%s data[:200]=%r (%d bytes)",
        letter.reason,
        dict(letter.attributes),
        shown,
        len(letter.data),
    )
