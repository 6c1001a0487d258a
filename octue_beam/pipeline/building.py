"""Building a service's streaming pipeline from pipeline options (the same graph for every runner).

`plan_service(options)` loads the service once to learn its SRUID and works out the project, topic and
subscription; `build_service_pipeline(options)` returns the Beam pipeline (not yet run) and that plan.
"""

import dataclasses
import os
from typing import Any

import apache_beam as beam
from apache_beam.options.pipeline_options import GoogleCloudOptions, PipelineOptions

from octue_beam.environment import LOCAL_PROJECT, configured_project
from octue_beam.messaging.pubsub import (
    parse_subscription,
    parse_topic,
    service_subscription_name,
    subscription_path,
    topic_path,
)
from octue_beam.pipeline.local_bundles import cache_dofn_specs, caching_views
from octue_beam.pipeline.local_reads import set_local_pull_size
from octue_beam.pipeline.options import ServiceOptions, revision_tag_from
from octue_beam.pipeline.runners import DATAFLOW_RUNNER, LOCAL_RUNNER, select_runner
from octue_beam.pipeline.transforms import (
    SERVICE_DOFNS,
    AnswerQuestions,
    CheckQuestions,
    ReadQuestions,
    RecordAnswers,
    RejectMessages,
    WriteDeadLetters,
)
from octue_beam.pipeline.worker import PublisherFactory, ServiceWorkers, WorkerConfig, pubsub_publisher
from octue_beam.service.loading import load_service

DEFAULT_ID_LABEL = "uuid"


@dataclasses.dataclass
class ServicePlan:
    """What a service pipeline reads and writes, worked out from the options and the service."""

    sruid: str
    service_dir: str
    runner: str
    project: str
    topic_project: str
    topic_name: str
    subscription_project: str
    subscription_name: str
    dead_letter_topic: str | None
    id_label: str | None
    worker: WorkerConfig
    record_answers: bool = False
    wait_for_answers: bool = False  # AnswerQuestions holds each bundle until its questions are answered (Dataflow)
    service: Any = dataclasses.field(default=None, repr=False)

    @property
    def topic_path(self) -> str:
        return topic_path(self.topic_project, self.topic_name)

    @property
    def subscription_path(self) -> str:
        return subscription_path(self.subscription_project, self.subscription_name)


def _project(options: PipelineOptions) -> str:
    return options.view_as(GoogleCloudOptions).project or configured_project() or LOCAL_PROJECT


def plan_service(options: PipelineOptions, service: Any = None) -> ServicePlan:
    """Select the runner, load the service (unless given) and name the topic/subscription the pipeline uses."""
    runner = select_runner(options)
    service_options = options.view_as(ServiceOptions)
    service_dir = os.path.abspath(service_options.service_dir or ".")
    revision_tag = revision_tag_from(options)
    if service is None:
        service = load_service(
            service_dir, revision_tag=revision_tag, check_credentials=False, service_name=service_options.service_name
        )
    project = _project(options)
    options.view_as(GoogleCloudOptions).project = project
    topic_project, topic_name = parse_topic(service_options.services_topic, project)
    subscription_project, subscription_name = parse_subscription(service_options.subscription, project)
    dead_letter = None
    if service_options.dead_letter_topic:
        dead_project, dead_name = parse_topic(service_options.dead_letter_topic, project)
        dead_letter = topic_path(dead_project, dead_name)

    dataflow = runner == DATAFLOW_RUNNER
    id_label = service_options.use_id_label
    if id_label is None:
        id_label = DEFAULT_ID_LABEL if dataflow else None
    elif id_label.lower() in ("", "none", "off", "false"):
        id_label = None
    elif not dataflow:
        raise ValueError(
            f"--use_id_label={id_label!r} needs the DataflowRunner: the local runner does not support id_label."
        )

    worker = WorkerConfig(
        service_dir=service_dir,
        sruid=service.sruid,
        project=project,
        revision_tag=revision_tag,
        services_topic=topic_path(topic_project, topic_name),
        heartbeat_interval=float(service_options.heartbeat_interval),
        max_concurrent_questions=int(service_options.max_concurrent_questions),
        max_message_bytes=int(service_options.max_message_bytes),
        seen_capacity=int(service_options.seen_questions_capacity),
        seen_ttl=float(service_options.seen_questions_ttl),
        secrets_project=project if dataflow else None,
        question_timeout=service_options.question_timeout,
        max_queued_questions=int(service_options.max_queued_questions),
        service_name=service_options.service_name,
    )
    return ServicePlan(
        sruid=service.sruid,
        service_dir=service_dir,
        runner=runner,
        project=project,
        topic_project=topic_project,
        topic_name=topic_name,
        subscription_project=subscription_project,
        subscription_name=subscription_name or service_subscription_name(service.sruid),
        dead_letter_topic=dead_letter,
        id_label=id_label,
        worker=worker,
        record_answers=bool(service_options.record_answers),
        wait_for_answers=dataflow,
        service=service,
    )


def add_service_transforms(
    pipeline: beam.Pipeline, plan: ServicePlan, publisher_factory: PublisherFactory = pubsub_publisher
) -> Any:
    """Apply the service's stages to `pipeline`; return the PCollection of `Answer`s.

    Every stage reaches the process's answering machinery through one `ServiceWorkers` handle (Beam keeps one
    worker per process alive only when all the stages of a pipeline share it).

    On the local runner AnswerQuestions does not hold bundles (`wait=False`): its single thread keeps pulling while
    questions run or hang. On Dataflow it does (`wait=True`): a message is acknowledged only after the bundle that
    answered it is committed, so a worker lost mid-question means a redelivery, not a lost question (docs/engine.md).

    Nothing consumes the final events unless `--record_answers` is given: on the local runner every extra stage
    costs a bundle on its single worker thread (about a third of the throughput with a trivial app), and the
    AnswerQuestion DoFn counts results and exceptions itself.
    """
    messages = pipeline | "ReadQuestions" >> ReadQuestions(plan.subscription_path, id_label=plan.id_label)
    checked = messages | "CheckQuestions" >> CheckQuestions(plan.sruid, plan.worker.max_message_bytes)
    workers = ServiceWorkers(plan.worker, publisher_factory)
    answers = checked.questions | "AnswerQuestions" >> AnswerQuestions(workers, wait=plan.wait_for_answers)
    if plan.record_answers:
        answers | "RecordAnswers" >> RecordAnswers()
    letters = checked.invalid | "RejectMessages" >> RejectMessages(workers)
    letters | "WriteDeadLetters" >> WriteDeadLetters(plan.dead_letter_topic, workers)
    return answers


def build_service_pipeline(options: PipelineOptions, service: Any = None) -> tuple[beam.Pipeline, ServicePlan]:
    """The service's streaming pipeline (not yet run) and its plan."""
    plan = plan_service(options, service)
    if plan.runner == LOCAL_RUNNER:
        set_local_pull_size(options.view_as(ServiceOptions).local_pull_size)
        cache_dofn_specs(SERVICE_DOFNS)
        options = caching_views(options)  # shares its values with the options given
    pipeline = beam.Pipeline(options=options)
    add_service_transforms(pipeline, plan)
    return pipeline, plan
