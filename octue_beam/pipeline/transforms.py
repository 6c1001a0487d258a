"""The stages of a service pipeline, one composite PTransform each:

ReadQuestions -> CheckQuestions -> AnswerQuestions [-> RecordAnswers with --record_answers], with broken messages going
CheckQuestions[invalid] -> RejectMessages -> WriteDeadLetters.
"""

import logging
from typing import Any

import apache_beam as beam
from apache_beam.io.gcp.pubsub import ReadFromPubSub

from octue_beam.pipeline.answering import AnswerQuestion
from octue_beam.pipeline.checking import INVALID, CheckMessage
from octue_beam.pipeline.rejecting import PublishDeadLetters, RejectInvalid, log_dead_letter
from octue_beam.pipeline.worker import WorkerConfig

logger = logging.getLogger(__name__)


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
    """Questions for this service (main output) and broken messages for it (the `invalid` output)."""

    def __init__(self, sruid: str, max_message_bytes: int) -> None:
        super().__init__()
        self.sruid = sruid
        self.max_message_bytes = max_message_bytes

    def expand(self, messages: Any) -> Any:
        return messages | "ParseAndCheck" >> beam.ParDo(CheckMessage(self.sruid, self.max_message_bytes)).with_outputs(
            INVALID, main="questions"
        )


class AnswerQuestions(beam.PTransform):
    """Answers the questions (events published directly); outputs the final event of each."""

    def __init__(self, config: WorkerConfig) -> None:
        super().__init__()
        self.config = config

    def expand(self, questions: Any) -> Any:
        return questions | "AnswerQuestion" >> beam.ParDo(AnswerQuestion(self.config))


def _record(final: dict) -> dict:
    attributes = final["attributes"]
    logger.debug("Answered question %s with a %s.", attributes.get("question_uuid"), final["event"].get("kind"))
    return final


class RecordAnswers(beam.PTransform):
    """The branch for an event store or other sinks of final events (AnswerQuestion already counts them)."""

    def expand(self, answers: Any) -> Any:
        return answers | "Record" >> beam.Map(_record)


class RejectMessages(beam.PTransform):
    """Answers broken questions with an `exception` when the sender is known; outputs dead letters."""

    def __init__(self, config: WorkerConfig) -> None:
        super().__init__()
        self.config = config

    def expand(self, rejections: Any) -> Any:
        return rejections | "AnswerWithException" >> beam.ParDo(RejectInvalid(self.config))


class WriteDeadLetters(beam.PTransform):
    """Dead letters to a Pub/Sub topic when configured, else to the log."""

    def __init__(self, topic: str | None = None) -> None:
        super().__init__()
        self.topic = topic

    def expand(self, letters: Any) -> Any:
        if self.topic:
            return letters | "Publish" >> beam.ParDo(PublishDeadLetters(self.topic))
        return letters | "Log" >> beam.Map(log_dead_letter)
