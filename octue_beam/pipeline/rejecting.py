"""Answering broken messages with an `exception` event (when they say who asked) and logging why they were rejected.

Octue acknowledges and silently drops an invalid question, so its parent waits for a heartbeat timeout; here the
parent gets an `exception` naming what is wrong at once.
"""

import base64
import logging
import threading
from typing import Any, Iterator

import apache_beam as beam

from octue_beam import __version__
from octue_beam.messaging import events
from octue_beam.messaging.attributes import response_attributes
from octue_beam.pipeline.worker import WorkerConfig, get_worker

logger = logging.getLogger(__name__)

DEAD_LETTER_REASON_ATTRIBUTE = "octue_beam_rejection_reason"


def reject(worker: Any, rejection: dict) -> bool:
    """Publish an `exception` answer to the sender of a broken question if possible; return whether one was sent."""
    from octue_beam.exceptions import InvalidEvent
    from octue_beam.messaging.parsing import best_effort_question_attributes

    question = best_effort_question_attributes(rejection["attributes"])
    if question is None:
        logger.warning(
            "Rejected a message for this service that does not say who asked (message %s): %s",
            rejection.get("message_id"),
            rejection["reason"],
        )
        return False
    logger.warning("Rejected question %s from %s: %s", question["question_uuid"], question["sender"], rejection["reason"])
    error = InvalidEvent(f"The question was rejected by {question['recipient']}: {rejection['reason']}")
    try:
        worker.publisher.publish(events.exception(error), response_attributes(question, __version__), wait=True)
        return True
    except Exception:  # noqa: BLE001 - nothing crashes the pipeline
        logger.exception("Could not send the rejection of question %s.", question["question_uuid"])
        return False


class RejectInvalid(beam.DoFn):
    """Answers broken questions with an exception; outputs dead letters `{"data", "attributes"}` (reason attached)."""

    def __init__(self, config: WorkerConfig) -> None:
        super().__init__()
        self.config = config

    def setup(self) -> None:
        self._worker = get_worker(self.config)

    def process(self, rejection: dict) -> Iterator[dict]:
        reject(self._worker, rejection)
        attributes = {str(k)[:256]: str(v)[:1024] for k, v in rejection["attributes"].items()}
        attributes[DEAD_LETTER_REASON_ATTRIBUTE] = rejection["reason"][:1024]
        yield {"data": rejection["data"], "attributes": attributes, "reason": rejection["reason"]}


def log_dead_letter(letter: dict) -> None:
    """The dead-letter output when no dead-letter topic is configured: one log line per message."""
    data = letter["data"]
    preview = data[:200]
    try:
        shown = preview.decode()
    except UnicodeDecodeError:
        shown = "base64:" + base64.b64encode(preview).decode()
    logger.warning(
        "Dead letter (%s): attributes=%s data[:200]=%r (%d bytes)",
        letter["reason"],
        letter["attributes"],
        shown,
        len(data),
    )


_dead_letter_publishers: dict[str, Any] = {}
_dead_letter_lock = threading.Lock()


def _dead_letter_publisher(topic: str) -> Any:
    """One publisher per dead-letter topic per process."""
    from octue_beam.messaging.publishing import OrderedBatchPublisher

    with _dead_letter_lock:
        publisher = _dead_letter_publishers.get(topic)
        if publisher is None:
            _, project, _, name = topic.split("/")
            publisher = OrderedBatchPublisher(project, name)
            _dead_letter_publishers[topic] = publisher
        return publisher


class PublishDeadLetters(beam.DoFn):
    """Publishes dead letters to a topic; one that cannot be published is logged instead (nothing fails the bundle,
    which the local runner would retry 4 times and then fail the pipeline, and Dataflow would retry forever)."""

    def __init__(self, topic: str) -> None:
        super().__init__()
        self.topic = topic

    def setup(self) -> None:
        self._publisher = _dead_letter_publisher(self.topic)

    def start_bundle(self) -> None:
        self._pending: list = []

    def process(self, letter: dict) -> None:
        try:
            self._pending.append((letter, self._publisher.publish_raw(letter["data"], letter["attributes"])))
        except Exception:  # noqa: BLE001
            logger.exception("Could not publish a dead letter to %s; logging it instead.", self.topic)
            log_dead_letter(letter)

    def finish_bundle(self) -> None:
        pending, self._pending = self._pending, []
        for letter, future in pending:
            try:
                future.result(timeout=60)
            except Exception:  # noqa: BLE001
                logger.exception("Could not publish a dead letter to %s; logging it instead.", self.topic)
                log_dead_letter(letter)
