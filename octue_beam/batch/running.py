"""Running a batch: `run_batch(options)` builds the bounded pipeline, runs it with a progress bar (local runs) and
returns a `BatchSummary` (answered, failed, seconds, questions/s) from the job's metrics.

A question that fails is a row of the answers file, never a failed job: the job fails only when it cannot run at
all (the questions file cannot be read, the answers file cannot be written, a worker process dies).
"""

import dataclasses
import logging
import os
import tempfile
import time
from typing import Any

from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions

from octue_beam.batch.building import build_batch_pipeline
from octue_beam.batch.files import check_questions_file
from octue_beam.batch.options import BatchOptions
from octue_beam.batch.progress import ProgressBar, ProgressReader
from octue_beam.batch.rows import ANSWERED, FAILED
from octue_beam.batch.transforms import METRICS_NAMESPACE

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class BatchSummary:
    """How a batch went: questions answered and failed, the job's wall-clock seconds (start-up and writing
    included) and, for local runs, the seconds from the first answer to the last (`answering_seconds`)."""

    answered: int
    failed: int
    seconds: float
    answers: str | None  # None: not kept
    answering_seconds: float | None = None
    dry_run: bool = False  # the graph was only built (Dataflow's --dry_run True)

    @property
    def questions(self) -> int:
        return self.answered + self.failed

    @property
    def rate(self) -> float:
        """Questions per second over the whole job."""
        return self.questions / self.seconds if self.seconds > 0 else 0.0

    @property
    def answering_rate(self) -> float | None:
        """Questions per second while answering (start-up and writing left out), when known."""
        if not self.answering_seconds:
            return None
        return self.questions / self.answering_seconds

    def __str__(self) -> str:
        if self.dry_run:
            return "The batch pipeline was built (dry run): no question was answered."
        answering = ""
        if self.answering_rate is not None:
            answering = f"; answering took {self.answering_seconds:.1f} s of it: {self.answering_rate:.0f} questions/s"
        return (
            f"{self.questions} questions: {self.answered} answered, {self.failed} failed, in {self.seconds:.1f} s "
            f"({self.rate:.0f} questions/s{answering})" + (f"; answers in {self.answers}" if self.answers else "")
        )


def run_batch(
    options: PipelineOptions, service: Any = None, show_progress: bool | None = None, total: int | None = None
) -> BatchSummary:
    """Answer every question of `--questions` into `--answers`; `show_progress` None shows the bar on a terminal;
    `total` is the number of questions when the caller has counted them (`check_questions_file`), else they are
    counted here. Raises `QuestionsFileError`, before anything runs, if the questions file cannot be read as one."""
    dry_run = is_dry_run(options)
    if total is None and not dry_run:
        total = check_questions_file(options.view_as(BatchOptions).questions)
    with tempfile.TemporaryDirectory(prefix="octue-beam-batch-") as folder:
        progress = os.path.join(folder, "progress")
        pipeline, plan = build_batch_pipeline(options, service, progress)
        logger.info("Answering %s questions for %s on %s.", total, plan.sruid, plan.runner)
        started = time.perf_counter()
        answering = None
        if plan.local:
            with ProgressBar(progress, total, show_progress) as bar:
                result = pipeline.run()
                result.wait_until_finish()
            if bar.first_seen is not None and bar.last_seen > bar.first_seen:
                answering = bar.last_seen - bar.first_seen
        else:
            result = pipeline.run()
            result.wait_until_finish()
        seconds = time.perf_counter() - started
        counted = _counters(result)
        if counted is None:  # the runner keeps no metrics (or a dry run): the workers' own counts
            counted = dict(zip((ANSWERED, FAILED), ProgressReader(progress).poll(), strict=True))
    return BatchSummary(counted.get(ANSWERED, 0), counted.get(FAILED, 0), seconds, plan.answers, answering, dry_run)


def is_dry_run(options: PipelineOptions) -> bool:
    """Whether the options ask Dataflow only to build the job (`--dry_run True`)."""
    return str(options.get_all_options().get("dry_run", "")).lower() in ("true", "1")


def _counters(result: Any) -> dict[str, int] | None:
    """The batch's counters from the job's metrics (committed where the runner has them), or None."""
    try:
        found = result.metrics().query(MetricsFilter().with_namespace(METRICS_NAMESPACE))["counters"]
    except Exception:  # noqa: BLE001 - a runner without metrics
        return None
    if not found:
        return None
    counted: dict[str, int] = {}
    for counter in found:
        value = counter.committed if counter.committed is not None else counter.attempted
        counted[counter.key.metric.name] = counted.get(counter.key.metric.name, 0) + int(value or 0)
    return counted
