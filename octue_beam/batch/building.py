"""Building the bounded pipeline of a batch from pipeline options (`BatchOptions` and `ServiceOptions`).

`plan_batch(options)` loads the service once (for its SRUID) and chooses the runner; `build_batch_pipeline` returns
the Beam pipeline (not yet run) and that plan:

    ReadQuestionRows -> SpreadQuestionRows -> AnswerQuestionRows -> WriteAnswerRows

Runners: `DirectRunner` (the default) runs on Beam's portable local runner, the `FnApiRunner` (Beam's `DirectRunner`
name would first try to download and start the Prism runner, then fall back to the same `FnApiRunner`), with Beam's
`--direct_running_mode` and `--direct_num_workers`: `multi_processing` starts that many worker processes, each
loading the service once and answering `--max_concurrent_questions` questions at a time; Beam's own default,
`in_memory`, answers in this process, which starts seconds sooner (the `batch` command chooses between them by the
file's size and the CPUs: `cli.batch.local_running_mode`; docs/batch.md has the measurements). Any other runner
(`DataflowRunner`) is used as given.
"""

import dataclasses
import os
from typing import Any

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from octue_beam.batch.options import BatchOptions
from octue_beam.batch.sink import answer_sink
from octue_beam.batch.transforms import AnswerQuestionRows, ReadQuestionRows, SpreadQuestionRows, WriteAnswerRows
from octue_beam.environment import LOCAL_PROJECT
from octue_beam.pipeline.local_bundles import caching_views
from octue_beam.pipeline.options import ServiceOptions, revision_tag_from
from octue_beam.pipeline.worker import ServiceWorkers, WorkerConfig
from octue_beam.service.loading import load_service

LOCAL_RUNNER = "FnApiRunner"
_LOCAL_NAMES = ("", "direct", "directrunner", "fnapirunner")


@dataclasses.dataclass
class BatchPlan:
    """What a batch reads, runs and writes, worked out from the options and the service."""

    sruid: str
    questions: str
    answers: str
    runner: str
    worker: WorkerConfig
    max_message_bytes: int
    progress: str | None = None

    @property
    def local(self) -> bool:
        """Whether the job runs on this machine (its workers can write a local progress file)."""
        return self.runner == LOCAL_RUNNER


def select_batch_runner(options: PipelineOptions) -> str:
    """Set the runner on `options` (DirectRunner -> FnApiRunner) and batch mode; return the runner's name."""
    standard = options.view_as(StandardOptions)
    runner = standard.runner
    if runner is None or (isinstance(runner, str) and runner.lower() in _LOCAL_NAMES):
        runner = LOCAL_RUNNER
    standard.runner = runner if isinstance(runner, str) else type(runner).__name__
    standard.streaming = False
    return standard.runner


def plan_batch(options: PipelineOptions, service: Any = None, progress: str | None = None) -> BatchPlan:
    """Select the runner, load the service (unless given) and check the options name both files."""
    batch = options.view_as(BatchOptions)
    if not batch.questions or not batch.answers:
        raise ValueError("A batch needs --questions (the questions file) and --answers (the answers file to write).")
    runner = select_batch_runner(options)
    service_options = options.view_as(ServiceOptions)
    service_dir = os.path.abspath(service_options.service_dir or ".")
    revision_tag = revision_tag_from(options)
    if service is None:
        service = load_service(
            service_dir, revision_tag=revision_tag, check_credentials=False, service_name=service_options.service_name
        )
    worker = WorkerConfig(
        service_dir=service_dir,
        sruid=service.sruid,
        project=LOCAL_PROJECT,  # names no topic: a batch publishes nothing
        revision_tag=revision_tag,
        heartbeat_interval=0,  # nobody listens: no heartbeats, no clock thread
        max_concurrent_questions=service_options.max_concurrent_questions,
        seen_capacity=1,
        seen_ttl=0,  # duplicates are failed by ReadQuestionRows; a retried bundle is answered again
        question_timeout=service_options.question_timeout,
        service_name=service_options.service_name,
    )
    return BatchPlan(
        sruid=service.sruid,
        questions=batch.questions,
        answers=batch.answers,
        runner=runner,
        worker=worker,
        max_message_bytes=service_options.max_message_bytes,
        progress=progress if runner == LOCAL_RUNNER else None,
    )


def build_batch_pipeline(
    options: PipelineOptions, service: Any = None, progress: str | None = None
) -> tuple[beam.Pipeline, BatchPlan]:
    """The batch's bounded pipeline (not yet run) and its plan; `progress` is a local file for the progress bar."""
    plan = plan_batch(options, service, progress)
    # Locally, each view of the options made once: the runner looks at them for every transform it applies and every
    # stage it runs, and each view parses every flag of every options class (0.1-0.2 s of a small batch).
    pipeline = beam.Pipeline(options=caching_views(options) if plan.local else options)
    add_batch_transforms(pipeline, plan)
    return pipeline, plan


def add_batch_transforms(pipeline: beam.Pipeline, plan: BatchPlan) -> Any:
    """Apply the batch's transforms to `pipeline`; the answer rows' PCollection (before they are written)."""
    workers = ServiceWorkers(plan.worker, answer_sink)
    answers = (
        pipeline
        | "ReadQuestionRows" >> ReadQuestionRows(plan.questions)
        | "SpreadQuestionRows" >> SpreadQuestionRows()
        | "AnswerQuestionRows" >> AnswerQuestionRows(workers, plan.max_message_bytes, plan.progress)
    )
    answers | "WriteAnswerRows" >> WriteAnswerRows(plan.answers)
    return answers
