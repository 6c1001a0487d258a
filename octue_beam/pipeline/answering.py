"""`AnswerQuestion`: the DoFn that answers checked questions, concurrently, publishing every event itself.

Per question: `delivery_acknowledgement`, a `heartbeat` at once and then every `heartbeat_interval` seconds,
`log_record`s (when the question has `forward_logs`), `monitor_message`s, then exactly one `result` or `exception`.
No error escapes: an invalid input, an app crash, invalid outputs or a failed upload all become `exception` events,
and the pipeline keeps serving. Questions of one bundle run on the worker's thread pool and `finish_bundle` waits
for them, so questions that arrive together are answered together.
"""

import logging
import time
from typing import Any, Iterator

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindows
from apache_beam.utils.timestamp import Timestamp

from octue_beam import __version__
from octue_beam.messaging import events
from octue_beam.messaging.attributes import response_attributes
from octue_beam.pipeline.emitting import QuestionEmitter
from octue_beam.pipeline.worker import Worker, WorkerConfig, get_worker

logger = logging.getLogger(__name__)


def answer_question(worker: Worker, question: dict) -> dict:
    """Answer one checked question, publishing its events; return `{"event", "attributes"}` of the final event.

    Never raises.
    """
    from octue_beam.service.context import question_context

    attributes = question["attributes"]
    event = question["event"]
    question_uuid = attributes["question_uuid"]
    reply = response_attributes(attributes, __version__)
    emitter = QuestionEmitter(worker.publisher, reply)
    final: dict
    try:
        emitter.send(events.delivery_acknowledgement())
        if attributes.get("forward_logs"):
            worker.log_forwarder.register(emitter)
        worker.heartbeats.start(emitter, worker.config.heartbeat_interval)
        try:
            if worker.service is None:
                raise worker.load_error or RuntimeError("The service is not loaded.")
            from octue_beam.service.answering import answer

            with question_context(question_uuid):
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
                )
            final = analysis.result_event()
        except BaseException as error:  # noqa: BLE001 - app errors (even SystemExit) become exception events
            logger.warning("Question %s failed: %s: %s", question_uuid, type(error).__name__, error)
            final = events.exception(error)
        finally:
            worker.heartbeats.stop(question_uuid)
            worker.log_forwarder.unregister(question_uuid)
        final = _publish_final(emitter, final, question_uuid)
    except BaseException as error:  # noqa: BLE001 - e.g. publishing the acknowledgement failed
        logger.exception("Could not answer question %s.", question_uuid)
        final = events.exception(error)
    return {"event": final, "attributes": emitter.attributes}


def _publish_final(emitter: QuestionEmitter, final: dict, question_uuid: str) -> dict:
    """Publish the result (or exception); if that fails (e.g. a result too big for Pub/Sub), publish the error."""
    try:
        emitter.finish(final)
        return final
    except Exception as error:  # noqa: BLE001
        logger.exception("Could not publish the %s of question %s.", final.get("kind"), question_uuid)
        if final.get("kind") == events.EXCEPTION and not isinstance(error, (TypeError, ValueError)):
            raise
        failure = events.exception(error)
        failure["exception_message"] = f"The {final.get('kind')} could not be sent: {failure['exception_message']}"
        emitter.finish(failure)
        return failure


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

    def start_bundle(self) -> None:
        self._pending = []

    def process(self, question: dict) -> Iterator[Any]:
        worker = self._worker
        attributes = question["attributes"]
        key = (attributes["question_uuid"], attributes.get("retry_count", 0))
        if not worker.seen.add(key):
            logger.info("Ignoring a duplicate delivery of question %s (retry %s).", *key)
            self._duplicates.inc()
            return
        self._answered.inc()
        self._pending.append(worker.pool.submit(answer_question, worker, question))
        return iter(())

    def finish_bundle(self) -> Iterator[Any]:
        pending, self._pending = self._pending, []
        for future in pending:
            try:
                final = future.result()
            except Exception:  # noqa: BLE001 - answer_question never raises; be safe anyway
                logger.exception("A question's answering thread failed.")
                continue
            yield GlobalWindows.windowed_value(final, timestamp=Timestamp.of(time.time()))
