"""`AnswerQuestion`: the DoFn that answers checked questions, concurrently, publishing every event itself.

Per question: `delivery_acknowledgement`, a `heartbeat` at once and then every `heartbeat_interval` seconds,
`log_record`s (when the question has `forward_logs`), `monitor_message`s, then exactly one `result` or `exception`.
No error escapes: an invalid input, an app crash, invalid outputs or a failed upload all become `exception` events,
and the pipeline keeps serving. Questions of one bundle run on the worker's thread pool and `finish_bundle` waits
for them, so questions that arrive together are answered together.
"""

import dataclasses
import logging
import time
from typing import Any, Iterator

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindows
from apache_beam.utils.timestamp import Timestamp

from octue_beam import __version__
from octue_beam.messaging import events
from octue_beam.messaging.attributes import SAVE_DIAGNOSTICS_ON_CRASH, response_attributes
from octue_beam.pipeline.emitting import QuestionEmitter
from octue_beam.pipeline.worker import Worker, WorkerConfig, get_worker

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class Answered:
    """A question whose final event was handed to the publisher (`future` resolves when Pub/Sub accepted it)."""

    emitter: QuestionEmitter
    final: dict
    future: Any = None


def answer_question(worker: Worker, question: dict) -> Answered:
    """Answer one checked question, publishing its events; the final event's publish is not waited for here
    (`complete` does that), so the thread is free for the next question at once. Never raises.
    """
    from octue_beam.resources import cache

    attributes = question["attributes"]
    event = question["event"]
    question_uuid = attributes["question_uuid"]
    emitter = QuestionEmitter(worker.publisher, response_attributes(attributes, __version__))
    try:
        emitter.send(events.delivery_acknowledgement())
        if attributes.get("forward_logs"):
            worker.log_forwarder.register(emitter)
        worker.heartbeats.start(emitter, worker.config.heartbeat_interval)
        try:
            if worker.service is None:
                raise worker.load_error or RuntimeError("The service is not loaded.")
            from octue_beam.service.answering import answer

            # Temporary local copies (downloaded inputs, output datasets) are deleted when the question ends.
            # `answer` runs the app in the question's context, so its logs and its children's monitor messages
            # reach this question's parent.
            with cache.scope(question_uuid):
                analysis = answer(
                    worker.service,
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
                final = analysis.result_event()
        except BaseException as error:  # noqa: BLE001 - app errors (even SystemExit) become exception events
            logger.warning("Question %s failed: %s: %s", question_uuid, type(error).__name__, error)
            final = events.exception(error)
        finally:
            worker.heartbeats.stop(question_uuid)
            worker.log_forwarder.unregister(question_uuid)
        return Answered(emitter, final, emitter.finish(final))
    except BaseException as error:  # noqa: BLE001 - e.g. the result could not be serialised
        return Answered(emitter, events.exception(error))


def complete(answered: Answered) -> dict:
    """Wait until the final event is accepted by Pub/Sub; if it failed (e.g. a result too big for Pub/Sub, or not
    serialisable), send an `exception` saying so. Returns `{"event", "attributes"}` of the final event sent."""
    emitter, final = answered.emitter, answered.final
    question_uuid = emitter.question_uuid
    try:
        if answered.future is None:  # handing the final event to the publisher failed: `final` says why
            answered.future = emitter.finish(final)
        answered.future.result(timeout=emitter.publish_timeout)
    except Exception as error:  # noqa: BLE001
        logger.exception("Could not publish the %s of question %s.", final.get("kind"), question_uuid)
        final = events.exception(error)
        final["exception_message"] = f"The answer could not be sent: {final['exception_message']}"
        try:
            emitter.finish(final).result(timeout=emitter.publish_timeout)
        except Exception:  # noqa: BLE001 - nothing more can be done; the parent will time out
            logger.exception("Could not publish the exception of question %s either.", question_uuid)
    return {"event": final, "attributes": emitter.attributes}


class AnswerQuestion(beam.DoFn):
    """Answers each checked question (`{"event", "attributes", ...}`); outputs the final events it sent."""

    def __init__(self, config: WorkerConfig) -> None:
        super().__init__()
        self.config = config
        self._worker: Worker | None = None
        self._pending: list = []

    def setup(self) -> None:
        # Loads the app, twine and configuration once per process (the DirectRunner calls setup for every bundle).
        self._worker = get_worker(self.config)
        self._answered = beam.metrics.Metrics.counter("octue_beam", "questions_started")
        self._duplicates = beam.metrics.Metrics.counter("octue_beam", "duplicate_questions")
        self._outcomes = {
            kind: beam.metrics.Metrics.counter("octue_beam", f"answers_{kind}") for kind in (events.RESULT, events.EXCEPTION)
        }

    def start_bundle(self) -> None:
        self._pending = []

    def process(self, question: dict) -> None:
        worker = self._worker
        attributes = question["attributes"]
        key = (attributes["question_uuid"], attributes.get("retry_count", 0))
        if not worker.seen.add(key):
            logger.info("Ignoring a duplicate delivery of question %s (retry %s).", *key)
            self._duplicates.inc()
            return
        self._answered.inc()
        self._pending.append(worker.pool.submit(answer_question, worker, question))

    def finish_bundle(self) -> Iterator[Any]:
        pending, self._pending = self._pending, []
        for future in pending:
            try:
                final = complete(future.result())
            except Exception:  # noqa: BLE001 - answer_question never raises; be safe anyway
                logger.exception("A question's answering thread failed.")
                continue
            counter = self._outcomes.get(final["event"].get("kind"))
            if counter is not None:
                counter.inc()
            yield GlobalWindows.windowed_value(final, timestamp=Timestamp.of(time.time()))
