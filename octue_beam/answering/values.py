"""The small value types that flow from a transport into the answering core and out again.

A transport (the Beam pipeline, an HTTP push handler, a batch file) turns what it receives into a `Question` (a
question for this service, parsed and checked) or a `Rejection` (a message for this service that is not a valid
question); the core turns each question into exactly one `Answer` (its final `result` or `exception` event) and each
rejection into at most one `exception`. Broken messages also leave as `DeadLetter`s. All are immutable and
picklable, so Beam can carry them between stages and workers.
"""

import dataclasses
from collections.abc import Mapping
from typing import Any

DEAD_LETTER_REASON_ATTRIBUTE = "octue_beam_rejection_reason"
_MAX_ATTRIBUTE_NAME = 256
_MAX_ATTRIBUTE_VALUE = 1024


@dataclasses.dataclass(frozen=True)
class Question:
    """A question addressed to this service: its `question` event and typed attributes (`decode_attributes`)."""

    event: Mapping[str, Any]
    attributes: Mapping[str, Any]
    message_id: str | None = None

    @property
    def question_uuid(self) -> str:
        return self.attributes["question_uuid"]

    @property
    def retry_count(self) -> int:
        return int(self.attributes.get("retry_count", 0) or 0)

    @property
    def key(self) -> tuple[str, int]:
        """What identifies a delivery for duplicate detection: a retry is a new question, a redelivery is not."""
        return self.question_uuid, self.retry_count


@dataclasses.dataclass(frozen=True)
class Rejection:
    """A message addressed to this service that is not a valid question, and why (its raw string attributes)."""

    data: bytes
    attributes: Mapping[str, str]
    reason: str
    message_id: str | None = None


@dataclasses.dataclass(frozen=True)
class Answer:
    """The final event sent for a question (`result` or `exception`) and the attributes it was sent with."""

    event: Mapping[str, Any]
    attributes: Mapping[str, Any]

    @property
    def kind(self) -> str | None:
        return self.event.get("kind")

    @property
    def question_uuid(self) -> str | None:
        return self.attributes.get("question_uuid")


@dataclasses.dataclass(frozen=True)
class DeadLetter:
    """A rejected message as it is kept: its bytes, its attributes (clipped to Pub/Sub's limits) with the reason."""

    data: bytes
    attributes: Mapping[str, str]
    reason: str

    @classmethod
    def from_rejection(cls, rejection: Rejection) -> "DeadLetter":
        attributes = {
            str(name)[:_MAX_ATTRIBUTE_NAME]: str(value)[:_MAX_ATTRIBUTE_VALUE]
            for name, value in rejection.attributes.items()
        }
        attributes[DEAD_LETTER_REASON_ATTRIBUTE] = rejection.reason[:_MAX_ATTRIBUTE_VALUE]
        return cls(rejection.data, attributes, rejection.reason)
