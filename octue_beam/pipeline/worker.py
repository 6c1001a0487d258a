"""The per-process objects a service pipeline answers with, shared by every DoFn instance and bundle of a process.

Beam's BundleBasedDirectRunner deserialises a fresh copy of each DoFn and calls `setup()`/`teardown()` for every
bundle, and Dataflow may run several DoFn instances per process. What must be loaded once and live across bundles
(the loaded service, the event publisher, the seen set, the heartbeat clock, the question runner, the questions
whose Answers are not yet output, dead-letter publishers) is one `ServiceWorker`, reached through a `ServiceWorkers`
handle: Beam's `Shared` keeps one worker per process alive, the DoFns acquire it in `setup()` and drop it in
`teardown()`. Every DoFn of one pipeline must use the same handle: Beam keeps alive only the object of the handle
acquired last.
"""

import dataclasses
import functools
import logging
import os
import threading
import weakref
from collections.abc import Callable
from concurrent import futures

from apache_beam.utils.shared import Shared

from octue_beam.answering.core import DEFAULT_HEARTBEAT_INTERVAL, Answerer, PendingAnswer
from octue_beam.answering.journal import journaled
from octue_beam.answering.runner import (
    DEFAULT_MAX_CONCURRENT_QUESTIONS,
    DEFAULT_MAX_QUEUED_QUESTIONS,
    DEFAULT_QUESTION_TIMEOUT,
    QuestionRunner,
)
from octue_beam.answering.seen import SeenSet
from octue_beam.messaging.parsing import MAX_MESSAGE_BYTES
from octue_beam.messaging.publishing import OrderedBatchPublisher, Publisher
from octue_beam.messaging.pubsub import parse_topic, topic_path

logger = logging.getLogger(__name__)

DEFAULT_SEEN_QUESTIONS = 50_000
DEFAULT_SEEN_TTL = 3600.0

__all__ = [
    "DEFAULT_HEARTBEAT_INTERVAL",
    "DEFAULT_MAX_CONCURRENT_QUESTIONS",
    "DEFAULT_MAX_QUEUED_QUESTIONS",
    "DEFAULT_QUESTION_TIMEOUT",
    "DEFAULT_SEEN_QUESTIONS",
    "DEFAULT_SEEN_TTL",
    "FinishedQuestions",
    "ServiceWorker",
    "ServiceWorkers",
    "WorkerConfig",
    "pubsub_publisher",
    "question_timeout_of",
]


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
    question_timeout: float | None = None  # seconds per question; None: octue.yaml's `question_timeout`, else 3600
    max_queued_questions: int = DEFAULT_MAX_QUEUED_QUESTIONS
    service_name: str | None = None  # which service of octue.yaml when it lists several


PublisherFactory = Callable[[str], Publisher]


def pubsub_publisher(topic: str) -> Publisher:
    """The default publisher factory: an `OrderedBatchPublisher` of the topic (`projects/<p>/topics/<t>`)."""
    project, name = parse_topic(topic, "")
    return OrderedBatchPublisher(project, name)


class ServiceWorker:
    """One process's answering machinery for one service pipeline: the `Answerer` (loaded service, publisher,
    heartbeats, seen set), the `QuestionRunner` (thread pool) and dead-letter publishers. Closed when released."""

    def __init__(self, config: WorkerConfig, publisher_factory: PublisherFactory = pubsub_publisher) -> None:
        self.config = config
        self._publisher_factory = publisher_factory
        topic = config.services_topic or topic_path(config.project)
        # Journaled when the local `run` command supervises this process (answering/journal.py), else as made.
        self.publisher = journaled(publisher_factory(topic), topic)
        self.answerer = Answerer.load(
            config.service_dir,
            self.publisher,
            sruid=config.sruid,
            revision_tag=config.revision_tag,
            secrets_project=config.secrets_project,
            service_name=config.service_name,
            heartbeat_interval=config.heartbeat_interval,
            seen=SeenSet(config.seen_capacity, config.seen_ttl),
        )
        self.runner = QuestionRunner(
            self.answerer,
            config.max_concurrent_questions,
            question_timeout=question_timeout_of(config, self.answerer),
            max_queued_questions=config.max_queued_questions,
        )
        self.finished = FinishedQuestions()
        logger.info(
            "Worker of %s ready in process %d (%d questions at a time, time limit %g s).",
            config.sruid,
            os.getpid(),
            self.runner.slots,
            self.runner.question_timeout,
        )
        self._dead_letter_publishers: dict[str, Publisher] = {}
        self._lock = threading.Lock()
        # Release the threads and clients when Beam drops the worker (or on `close()`), never while it is in use.
        self._finalizer = weakref.finalize(
            self, _close, self.runner, self.answerer, self.publisher, self._dead_letter_publishers
        )

    def dead_letter_publisher(self, topic: str) -> Publisher:
        """The publisher of a dead-letter topic (`projects/<p>/topics/<t>`), made on first use."""
        with self._lock:
            publisher = self._dead_letter_publishers.get(topic)
            if publisher is None:
                publisher = self._publisher_factory(topic)
                self._dead_letter_publishers[topic] = publisher
            return publisher

    def close(self) -> None:
        """Stop the pool and the heartbeat clock and close the publishers. Idempotent."""
        self._finalizer()


def question_timeout_of(config: WorkerConfig, answerer: Answerer) -> float:
    """The time limit per question: the pipeline option, else the service's octue.yaml, else the default."""
    return answerer.time_limit(config.question_timeout)


class FinishedQuestions:
    """Questions handed to the runner whose Answers a later bundle outputs (a DoFn that does not wait for its
    bundle's questions). Thread-safe; `take()` returns those whose final event was sent, keeping the others.

    Each question moves to the ready list when its final event is sent (callbacks of its futures), so a bundle's
    `take()` costs what it returns, not what is still in flight: with thousands of questions queued in a burst,
    looking at every waiting future in every bundle made the local runner slower the longer a burst lasted."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._added = 0
        self._waiting = 0
        self._ready: list[tuple[int, futures.Future]] = []

    def add(self, future: "futures.Future[PendingAnswer | None]") -> None:
        """Keep a runner future until its question's final event was sent."""
        with self._lock:
            index = self._added
            self._added += 1
            self._waiting += 1
        future.add_done_callback(functools.partial(self._answered, index))

    def _answered(self, index: int, future: futures.Future) -> None:
        """The runner's future is done: ready now, or once the sink has taken (or refused) the final event."""
        pending = None if future.cancelled() or future.exception() is not None else future.result()
        sink = None if pending is None else pending.future
        if sink is None:
            self._ready_now(index, future)
        else:
            sink.add_done_callback(lambda _: self._ready_now(index, future))

    def _ready_now(self, index: int, future: futures.Future) -> None:
        with self._lock:
            self._ready.append((index, future))
            self._waiting -= 1

    def take(self) -> "list[PendingAnswer | None]":
        """The PendingAnswers (None for duplicates) of questions whose final event the sink has taken (or refused:
        `wait()` then sends the replacement), in the order they were added; the others stay."""
        with self._lock:
            ready, self._ready = self._ready, []
        ready.sort(key=lambda item: item[0])
        return [future.result() for _, future in ready]

    def __len__(self) -> int:
        with self._lock:
            return self._waiting


def _close(runner: QuestionRunner, answerer: Answerer, publisher: Publisher, others: dict[str, Publisher]) -> None:
    runner.close()
    answerer.close()
    for each in (publisher, *others.values()):
        try:
            each.close()
        except Exception:  # closing is best effort
            logger.exception("Could not close a publisher.")


class ServiceWorkers:
    """The handle every DoFn of one service pipeline uses to reach its process's `ServiceWorker` (picklable).

    `publisher_factory(topic_path)` makes the event sinks: Pub/Sub by default; unit tests pass one returning a
    `MemoryPublisher` to drive the DoFns with `beam.Create` and no emulator.
    """

    def __init__(self, config: WorkerConfig, publisher_factory: PublisherFactory = pubsub_publisher) -> None:
        self.config = config
        self.publisher_factory = publisher_factory
        self._shared = Shared()

    @classmethod
    def of(cls, workers: "ServiceWorkers | WorkerConfig") -> "ServiceWorkers":
        """A handle for a config (a new one: share it between the DoFns of one pipeline), or the handle given."""
        return workers if isinstance(workers, ServiceWorkers) else cls(workers)

    def acquire(self) -> ServiceWorker:
        """This process's worker (created, and the service loaded, on first use)."""
        return self._shared.acquire(lambda: ServiceWorker(self.config, self.publisher_factory), tag=self.config)
