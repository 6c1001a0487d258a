"""`rerun_recorded`: recorded questions asked again as a batch, and each new answer compared with the recorded one.

The event-store rows (`octue_beam.events.store.read_events`, questions and final events, in any order) give the
questions asked of the service and their recorded answers (`regression`); the questions are written to a questions
file in a temporary folder, answered by `run_batch` (with their recorded UUIDs), and the answer rows compared.
"""

import dataclasses
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from typing import Any

from apache_beam.options.pipeline_options import PipelineOptions

from octue_beam.batch.files import read_answer_rows
from octue_beam.batch.options import BatchOptions
from octue_beam.batch.regression import (
    DEFAULT_FLOAT_TOLERANCE,
    Comparison,
    compare_answers,
    recorded_answers,
    recorded_questions,
)
from octue_beam.batch.running import BatchSummary, run_batch


class NothingRecorded(ValueError):
    """The event-store rows hold no question asked of the service."""


def rerun_recorded(
    rows: Iterable[Mapping[str, Any]],
    options: PipelineOptions,
    service: Any,
    float_tolerance: float = DEFAULT_FLOAT_TOLERANCE,
    show_progress: bool | None = None,
) -> tuple[BatchSummary, list[Comparison]]:
    """Ask the questions recorded in `rows` of `service` (a loaded service: any revision of it counts) again with
    the pipeline `options` (their `--questions` is set here; `--answers`, if unset, goes to a temporary file) and
    compare each answer with the recorded one. Raises NothingRecorded when no question of the service is there."""
    rows = list(rows)
    questions = recorded_questions(rows, service.sruid)
    if not questions:
        raise NothingRecorded(f"No question asked of {service.sruid} (any revision) is recorded there.")
    recorded = recorded_answers(rows, service.sruid)
    batch = options.view_as(BatchOptions)
    with tempfile.TemporaryDirectory(prefix="octue-beam-rerun-") as folder:
        batch.questions = os.path.join(folder, "questions.jsonl")
        with open(batch.questions, "w", encoding="utf-8") as stream:
            stream.writelines(json.dumps(question, ensure_ascii=False) + "\n" for question in questions)
        kept = bool(batch.answers)
        batch.answers = batch.answers or os.path.join(folder, "answers.jsonl")
        summary = run_batch(options, service, show_progress)
        comparisons = compare_answers(read_answer_rows(batch.answers), recorded, float_tolerance)
    return (summary if kept else dataclasses.replace(summary, answers=None)), comparisons
