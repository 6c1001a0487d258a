"""The rows of a batch: a question row read from the questions file, and the answer row written for it.

A question row is `{"question_uuid"?, "input_values"?, "input_manifest"?, "children"?}` (the fields of a `question`
event, and its UUID: generated when absent). A row that is not a question (not an object, an unknown field, a
`question_uuid` that is not a UUID, a UUID used by an earlier row) still gets its answer row: a failure with an
`InvalidQuestionRow` exception saying what is wrong and where.

Every question row gets exactly one answer row (`ANSWER_COLUMNS`): its `question_uuid`, `row` (its position among
the file's questions, from 0: answers are written in no particular order), `status` (`answered` or `failed`), the
input, `output_values` and `output_manifest` or the `exception` (`{"type", "message", "traceback"}`), and
`duration` (seconds from the question being taken on to its final event; 0 for rows that were never run). In
Parquet files the JSON columns (`JSON_COLUMNS`) hold JSON text, since their values change type from row to row.
"""

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from octue_beam.exceptions import InvalidEvent
from octue_beam.messaging import events
from octue_beam.messaging.attributes import is_uuid
from octue_beam.serialisation import to_json_compatible
from octue_beam.uuids import uuid4_string

#: The fields a question row may have.
QUESTION_FIELDS = ("question_uuid", "input_values", "input_manifest", "children")

#: The columns of an answer row, in order.
ANSWER_COLUMNS = (
    "question_uuid",
    "row",
    "status",
    "input_values",
    "input_manifest",
    "output_values",
    "output_manifest",
    "exception",
    "duration",
)

#: Columns whose values are any JSON (JSON text in Parquet files).
JSON_COLUMNS = ("input_values", "input_manifest", "output_values", "output_manifest", "exception")

ANSWERED = "answered"
FAILED = "failed"


class InvalidQuestionRow(InvalidEvent):
    """A row of a questions file that is not a question (the message says what is wrong and where)."""


class DuplicateQuestionUUID(InvalidQuestionRow):
    """A row whose `question_uuid` an earlier row of the file already has."""


@dataclasses.dataclass(frozen=True)
class QuestionRow:
    """One row of a questions file: its position (`index`, from 0), where it is (`where`, e.g. "line 3 of q.jsonl"),
    its question UUID (given or generated) and inputs, or the `error` (an `exception` event) that makes it no
    question."""

    index: int
    where: str
    question_uuid: str
    input_values: Any = None
    input_manifest: Any = None
    children: Any = None
    error: Mapping[str, Any] | None = None

    def failed(self, error: BaseException) -> "QuestionRow":
        """The same row, failed with `error`."""
        return dataclasses.replace(self, error=_exception_event(error))


def question_row(index: int, record: Any, where: str) -> QuestionRow:
    """The question row of a record read from a file (a dict, or anything else, which is an invalid row)."""
    if not isinstance(record, Mapping):
        return _invalid(index, where, f"{where} is not a question: expected a JSON object with some of the fields "
                                      f"{', '.join(QUESTION_FIELDS)}, got {_kind(record)}.")
    given = record.get("question_uuid")
    question_uuid = given if isinstance(given, str) and given else uuid4_string()
    unknown = sorted(str(name) for name in record if name not in QUESTION_FIELDS)
    if unknown:
        return _invalid(index, where, f"{where} has the unknown field(s) {', '.join(map(repr, unknown))}: a question "
                                      f"row has only {', '.join(QUESTION_FIELDS)}.", question_uuid)
    if given is not None and not is_uuid(given):
        return _invalid(index, where, f"The question_uuid of {where} is {_shown(given)}, not a UUID: give a UUID "
                                      "(e.g. from uuid.uuid4()) or leave it out to have one generated.", question_uuid)
    return QuestionRow(
        index, where, question_uuid, record.get("input_values"), record.get("input_manifest"), record.get("children")
    )


def failed_row(index: int, where: str, error: BaseException, question_uuid: str | None = None) -> QuestionRow:
    """A row that could not be read as a question (e.g. a line that is not JSON), failed with `error`."""
    return QuestionRow(index, where, question_uuid or uuid4_string(), error=_exception_event(error))


def duplicate(row: QuestionRow, first: QuestionRow) -> QuestionRow:
    """`row` failed because `first` (an earlier row) has its question UUID."""
    return row.failed(DuplicateQuestionUUID(
        f"The question_uuid {row.question_uuid} of {row.where} is also the question_uuid of {first.where}: each "
        "question of a batch needs its own UUID (leave question_uuid out to have one generated)."
    ))


def answer_row(row: QuestionRow, final: Mapping[str, Any], duration: float) -> dict[str, Any]:
    """The answer row of a question row: its final event (`result` or `exception`) and how long it took."""
    answered = final.get("kind") == events.RESULT
    exception = None
    if not answered:
        exception = {
            "type": final.get("exception_type"),
            "message": final.get("exception_message"),
            "traceback": list(final.get("exception_traceback") or []),
        }
    return {
        "question_uuid": row.question_uuid,
        "row": row.index,
        "status": ANSWERED if answered else FAILED,
        "input_values": to_json_compatible(row.input_values),
        "input_manifest": to_json_compatible(row.input_manifest),
        "output_values": to_json_compatible(final.get("output_values")) if answered else None,
        "output_manifest": to_json_compatible(final.get("output_manifest")) if answered else None,
        "exception": exception,
        "duration": round(float(duration), 6),
    }


def failure_row(row: QuestionRow) -> dict[str, Any]:
    """The answer row of a row that was never run (its `error`)."""
    return answer_row(row, row.error or {"kind": events.EXCEPTION}, 0.0)


def to_parquet_record(answer: Mapping[str, Any]) -> dict[str, Any]:
    """An answer row with its JSON columns as JSON text (None stays None), for a Parquet file."""
    return {
        name: (None if answer.get(name) is None else json.dumps(answer[name])) if name in JSON_COLUMNS
        else answer.get(name)
        for name in ANSWER_COLUMNS
    }


def from_parquet_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """An answer row read back from a Parquet file: its JSON columns parsed."""
    return {
        name: (json.loads(record[name]) if isinstance(record.get(name), str) else record.get(name))
        if name in JSON_COLUMNS else record.get(name)
        for name in ANSWER_COLUMNS
    }


def _exception_event(error: BaseException) -> dict[str, Any]:
    return events.exception(error)


def _invalid(index: int, where: str, message: str, question_uuid: str | None = None) -> QuestionRow:
    return failed_row(index, where, InvalidQuestionRow(message), question_uuid)


def _kind(value: Any) -> str:
    kinds = {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return "null" if value is None else kinds.get(type(value), f"a {type(value).__name__}")


def _shown(value: Any, limit: int = 80) -> str:
    shown = repr(value)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."
