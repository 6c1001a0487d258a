"""The production HTTP server of `python -m octue_beam serve`: gunicorn, run programmatically, around a `PushApp`.

**One worker process** with threads (gunicorn's `gthread` worker): the answering machinery is per process (the
loaded service, the seen set and the questions in flight that a redelivery waits for), so a second process would
answer a redelivery again. Each push request holds a thread until its question is answered, so there are threads
for every running and queued question plus a few for probes, redeliveries and messages for other services
(`threads_for`); requests beyond them wait for a thread in gunicorn's queue.

**No worker timeout**: a request lasts as long as its question (up to its time limit), and Cloud Run's request
timeout governs it; gunicorn's silence timeout would kill a worker answering long questions.

**The worker loads the service** (after gunicorn forked it: no gRPC channel or thread crosses a fork). Until it is
loaded, requests wait in the listening socket's queue; `GET /health` answers once it is.

**Stopping.** On SIGTERM (Cloud Run sends it, then SIGKILL 10 s later) gunicorn stops accepting connections, the
handler refuses new questions with 503 (Pub/Sub pushes them to another instance), the questions running finish if
they can within `graceful_timeout` seconds, then the worker closes the runner and the publisher (which sends what is
queued) and gunicorn exits 0. A question still running at the end is not acknowledged, so Pub/Sub pushes it again.
SIGINT stops at once.
"""

import dataclasses
import logging
import os
import signal
from collections.abc import Callable
from types import FrameType
from typing import Any

from gunicorn.app.base import BaseApplication

from octue_beam.messaging.publishing import OrderedBatchPublisher, Publisher
from octue_beam.messaging.pubsub import ensure_topic, parse_topic
from octue_beam.push.handling import (
    DEFAULT_HEARTBEAT_INTERVAL,
    DEFAULT_MAX_CONCURRENT_QUESTIONS,
    DEFAULT_MAX_QUEUED_QUESTIONS,
    PushHandler,
)
from octue_beam.push.wsgi import PushApp

logger = logging.getLogger(__name__)

DEFAULT_PORT = 8080
DEFAULT_HOST = "0.0.0.0"
#: Seconds the running questions get to finish after SIGTERM (Cloud Run kills the container 10 s after it).
DEFAULT_GRACEFUL_TIMEOUT = 8
#: Threads beyond the running and queued questions: health probes, redeliveries waiting, messages for others.
SPARE_THREADS = 8

PublisherFactory = Callable[[str], Publisher]


def pubsub_publisher(topic: str) -> Publisher:
    """The default publisher of a served service's events: an `OrderedBatchPublisher` of `topic` (a full path), on
    the emulator of `PUBSUB_EMULATOR_HOST` when it is set."""
    project, name = parse_topic(topic, "")
    return OrderedBatchPublisher(project, name)


@dataclasses.dataclass(frozen=True)
class ServerSettings:
    """What `serve` serves and how (the command's options, resolved)."""

    service_dir: str
    sruid: str
    services_topic: str  # projects/<p>/topics/<t>: where answers are published
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    revision_tag: str | None = None
    service_name: str | None = None  # which service of octue.yaml, when it lists several
    secrets_project: str | None = None  # load missing credentials from this project's Secret Manager
    heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL
    max_concurrent_questions: int = DEFAULT_MAX_CONCURRENT_QUESTIONS
    max_queued_questions: int = DEFAULT_MAX_QUEUED_QUESTIONS
    question_timeout: float | None = None  # None: octue.yaml's question_timeout, else the default
    graceful_timeout: int = DEFAULT_GRACEFUL_TIMEOUT
    create_topic: bool = False  # create the services topic if missing (on an emulator; deployments create it)
    log_level: str = "info"

    @property
    def threads(self) -> int:
        return threads_for(self.max_concurrent_questions, self.max_queued_questions)


def threads_for(max_concurrent_questions: int, max_queued_questions: int) -> int:
    """Request threads for this many running and queued questions (each holds its request's thread)."""
    return max(1, max_concurrent_questions) + max(1, max_queued_questions) + SPARE_THREADS


def load_app(settings: ServerSettings, publisher_factory: PublisherFactory = pubsub_publisher) -> PushApp:
    """The WSGI app of `settings`: the service loaded once, its runner started, its events published to the topic
    (created first with `settings.create_topic`)."""
    if settings.create_topic:
        ensure_topic(*parse_topic(settings.services_topic, ""))
    handler = PushHandler.load(
        settings.service_dir,
        settings.sruid,
        publisher_factory(settings.services_topic),
        revision_tag=settings.revision_tag,
        service_name=settings.service_name,
        secrets_project=settings.secrets_project,
        heartbeat_interval=settings.heartbeat_interval,
        max_concurrent_questions=settings.max_concurrent_questions,
        max_queued_questions=settings.max_queued_questions,
        question_timeout=settings.question_timeout,
    )
    logger.info(
        "Worker %d of %s ready: %d questions at a time, %d queued at most, time limit %g s.",
        os.getpid(),
        settings.sruid,
        handler.runner.slots,
        handler.runner.max_queued_questions,
        handler.runner.question_timeout,
    )
    return PushApp(handler)


class PushServer(BaseApplication):
    """gunicorn serving the `PushApp` of `settings` (one worker process, `settings.threads` threads)."""

    def __init__(self, settings: ServerSettings, publisher_factory: PublisherFactory = pubsub_publisher) -> None:
        self.settings = settings
        self.publisher_factory = publisher_factory
        self.app: PushApp | None = None
        super().__init__()

    def load_config(self) -> None:
        settings = self.settings
        threads = settings.threads
        options: dict[str, Any] = {
            "bind": [_bind_address(settings.host, settings.port)],
            "workers": 1,
            "worker_class": "gthread",
            "threads": threads,
            "worker_connections": max(1000, 2 * threads),
            "timeout": 0,  # no silence timeout: Cloud Run's request timeout governs
            "graceful_timeout": int(settings.graceful_timeout),
            "keepalive": 5,
            "loglevel": settings.log_level,
            "accesslog": None,
            "control_socket_disable": True,
            "proc_name": f"octue-beam serve {settings.sruid}",
            "when_ready": self._when_ready,
            "post_worker_init": self._post_worker_init,
            "worker_exit": self._worker_exit,
        }
        for name, value in options.items():
            self.cfg.set(name, value)

    def load(self) -> PushApp:
        """Called in the worker process: load the service and start answering."""
        self.app = load_app(self.settings, self.publisher_factory)
        return self.app

    def _when_ready(self, arbiter: Any) -> None:
        settings = self.settings
        logger.info(
            "Serving %s on port %d: questions pushed to POST / are answered on %s.",
            settings.sruid,
            settings.port,
            settings.services_topic,
        )

    def _post_worker_init(self, worker: Any) -> None:
        """On SIGTERM, refuse new questions before gunicorn's own graceful stop (the worker's SIGTERM handler)."""
        gunicorn_handler = signal.getsignal(signal.SIGTERM)
        app = self.app

        def stop(signum: int, frame: FrameType | None) -> None:
            if app is not None:
                app.handler.stop_taking_questions()
            if callable(gunicorn_handler):
                gunicorn_handler(signum, frame)

        signal.signal(signal.SIGTERM, stop)
        signal.siginterrupt(signal.SIGTERM, False)  # as gunicorn set it: SIGTERM does not interrupt a request

    def _worker_exit(self, arbiter: Any, worker: Any) -> None:
        if self.app is not None:
            in_flight = self.app.handler.in_flight
            if in_flight:
                logger.warning(
                    "Stopping with %d questions unanswered: Pub/Sub pushes them again to another instance.", in_flight
                )
            self.app.handler.close()


def _bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def serve(settings: ServerSettings, publisher_factory: PublisherFactory = pubsub_publisher) -> None:
    """Serve until SIGTERM or SIGINT; gunicorn then exits the process (0 after a graceful stop)."""
    PushServer(settings, publisher_factory).run()
