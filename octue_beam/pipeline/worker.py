"""Per-process state of a service pipeline, shared by every DoFn instance and bundle of that process.

Beam's BundleBasedDirectRunner deserialises a fresh copy of each DoFn and calls `setup()`/`teardown()` for every
bundle, and Dataflow may run several DoFn instances per process. So what must be loaded once and live across
bundles (the loaded service, the event publisher, the set of seen questions, the thread pool, the heartbeat clock
and the log forwarder) lives in one `Worker` per process and per `WorkerConfig`, which `get_worker` returns.
"""

import dataclasses
import logging
import threading
from concurrent import futures
from typing import Any

from octue_beam.messaging.parsing import MAX_MESSAGE_BYTES
from octue_beam.pipeline.emitting import Heartbeats, LogForwarder
from octue_beam.pipeline.seen import SeenSet

logger = logging.getLogger(__name__)

DEFAULT_HEARTBEAT_INTERVAL = 60.0
DEFAULT_MAX_CONCURRENT_QUESTIONS = 10
DEFAULT_SEEN_QUESTIONS = 50_000
DEFAULT_SEEN_TTL = 3600.0


@dataclasses.dataclass(frozen=True)
class WorkerConfig:
    """What a worker needs to answer questions (small and picklable: it travels inside the DoFns)."""

    service_dir: str
    sruid: str
    project: str
    revision_tag: str | None = None
    services_topic: str | None = None
    heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL
    max_concurrent_questions: int = DEFAULT_MAX_CONCURRENT_QUESTIONS
    max_message_bytes: int = MAX_MESSAGE_BYTES
    seen_capacity: int = DEFAULT_SEEN_QUESTIONS
    seen_ttl: float = DEFAULT_SEEN_TTL
    secrets_project: str | None = None  # load credentials from Secret Manager of this project (Dataflow only)


class Worker:
    """The loaded service and the shared machinery that answers its questions in this process."""

    def __init__(self, config: WorkerConfig) -> None:
        self.config = config
        self.service: Any = None
        self.load_error: BaseException | None = None
        self._publisher: Any = None
        self._lock = threading.Lock()
        self.seen = SeenSet(config.seen_capacity, config.seen_ttl)
        self.pool = futures.ThreadPoolExecutor(
            max_workers=max(1, config.max_concurrent_questions), thread_name_prefix="octue-beam-question"
        )
        self.heartbeats = Heartbeats()
        self.log_forwarder = LogForwarder()
        self._load_service()
        logging.getLogger().addHandler(self.log_forwarder)

    def _load_service(self) -> None:
        """Load the app, twine, configuration and configuration manifest once; keep the error if it fails."""
        from octue_beam.service.loading import load_service

        try:
            service = load_service(
                self.config.service_dir,
                revision_tag=self.config.revision_tag,
                project=self.config.secrets_project,
            )
            if service.sruid != self.config.sruid:
                raise ValueError(
                    f"The service in {self.config.service_dir!r} on this worker is {service.sruid!r}, but the pipeline "
                    f"was built for {self.config.sruid!r}: check --service_dir and --revision_tag."
                )
            self.service = service
        except Exception as error:  # noqa: BLE001 - every question gets this error as its answer
            logger.exception("Could not load the service in %r; every question will be answered with this error.", self.config.service_dir)
            self.load_error = error

    @property
    def publisher(self) -> Any:
        """The EventPublisher of the services topic (created on first use)."""
        with self._lock:
            if self._publisher is None:
                from octue_beam.messaging.publishing import OrderedBatchPublisher

                from octue_beam.messaging.pubsub import parse_topic

                project, topic = parse_topic(self.config.services_topic, self.config.project)
                self._publisher = OrderedBatchPublisher(project, topic)
            return self._publisher


_workers: dict[WorkerConfig, Worker] = {}
_workers_lock = threading.Lock()


def get_worker(config: WorkerConfig) -> Worker:
    """The Worker of this process for `config` (created and the service loaded on first call)."""
    with _workers_lock:
        worker = _workers.get(config)
        if worker is None:
            worker = Worker(config)
            _workers[config] = worker
        return worker
