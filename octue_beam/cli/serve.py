"""`octue-beam serve [SERVICE_DIR] [--port P]`: serve a service over HTTP as the endpoint of a Pub/Sub push
subscription (the Cloud Run transport, `octue_beam.push`).

The command resolves its options (the SRUID from the service's octue.yaml, the project, the topic, the port) and
hands them to gunicorn (`octue_beam.push.server`), whose one worker process loads the service and answers each
pushed question with the same answering core as the Beam pipeline. It never imports Beam: its modules are imported
by the handler, so `--help` stays fast.
"""

import argparse
import os
from typing import Any

from octue_beam.cli.arguments import CommandError

PORT_VARIABLE = "PORT"
DEFAULT_PORT = 8080


def add_parser(subparsers: Any) -> None:
    """Register the `serve` command."""
    parser = subparsers.add_parser(
        "serve",
        help="Serve a service over HTTP for a Pub/Sub push subscription (what a Cloud Run container runs).",
        description=(
            "Load the service in SERVICE_DIR once and answer the questions Pub/Sub pushes to POST / (push envelopes), "
            "publishing their answers on the services topic. A request is answered 2xx once its question is "
            "answered (or rejected as invalid, with an exception to the sender); messages for other services are "
            "acknowledged without an answer; a redelivery of a question still running waits for it, one already "
            "answered is acknowledged without a second run (per instance). GET / and GET /health return the SRUID. "
            "One gunicorn worker process with a thread per running or queued question; SIGTERM stops it gracefully. "
            "Uses the Pub/Sub emulator at $PUBSUB_EMULATOR_HOST when set."
        ),
    )
    parser.add_argument("service_dir", nargs="?", default=".", help="folder of the service's octue.yaml (default: .)")
    parser.add_argument(
        "--port",
        type=_port,
        default=None,
        help=f"port to listen on (default: ${PORT_VARIABLE}, which Cloud Run sets, else {DEFAULT_PORT})",
    )
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on (default: 0.0.0.0, every interface)")
    parser.add_argument(
        "--revision-tag",
        "--revision_tag",
        dest="revision_tag",
        help="revision tag of the service (default: $OCTUE_SERVICE_REVISION_TAG, else 'local')",
    )
    parser.add_argument(
        "--service",
        metavar="NAME",
        help="which service of octue.yaml, when it lists several (default: $OCTUE_SERVICE_NAME)",
    )
    parser.add_argument(
        "--project",
        help="Google Cloud project of the services topic (default: $GOOGLE_CLOUD_PROJECT; on the emulator "
        "octue-beam-local; on Google Cloud the project of its default credentials)",
    )
    parser.add_argument(
        "--services-topic",
        "--services_topic",
        dest="services_topic",
        metavar="TOPIC",
        help="name (or full path) of the services topic answers are published on (default: "
        "$TWINED_SERVICES_TOPIC_NAME, else main.octue.twined.services)",
    )
    parser.add_argument(
        "--max-concurrent-questions",
        "--max_concurrent_questions",
        dest="max_concurrent_questions",
        type=_positive_int,
        default=None,
        metavar="N",
        help="questions answered at the same time (default: 10)",
    )
    parser.add_argument(
        "--max-queued-questions",
        "--max_queued_questions",
        dest="max_queued_questions",
        type=_positive_int,
        default=None,
        metavar="N",
        help="questions waiting for a slot at most; each holds its request open (default: 100)",
    )
    parser.add_argument(
        "--question-timeout",
        "--question_timeout",
        dest="question_timeout",
        type=_positive_seconds,
        default=None,
        metavar="SECONDS",
        help="seconds a question may run before it is answered with a QuestionTimeLimitExceeded exception "
        "(default: octue.yaml's question_timeout, else 3600)",
    )
    parser.add_argument(
        "--heartbeat-interval",
        "--heartbeat_interval",
        dest="heartbeat_interval",
        type=_positive_seconds,
        default=None,
        metavar="SECONDS",
        help="seconds between heartbeats while a question runs; the first is sent at once (default: 60)",
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Serve until SIGTERM or SIGINT (gunicorn exits the process)."""
    # Imported here: the push server imports the Pub/Sub clients and gunicorn, which `--help` must not pay for.
    from octue_beam.exceptions import OctueBeamError
    from octue_beam.push import handling, server
    from octue_beam.service.configuration import load_service_configuration

    service_dir = os.path.abspath(args.service_dir)
    if not os.path.isdir(service_dir):
        raise CommandError(f"SERVICE_DIR {args.service_dir!r} is not a folder.")
    try:
        configuration = load_service_configuration(
            service_dir, revision_tag=args.revision_tag, service_name=args.service
        )
    except (OctueBeamError, ValueError, OSError) as error:
        raise CommandError(f"Could not read the service in {service_dir!r}: {error}") from None
    project = resolve_project(args.project)
    topic = _topic(args.services_topic, project)
    settings = server.ServerSettings(
        service_dir=service_dir,
        sruid=configuration.sruid,
        services_topic=topic,
        host=args.host,
        port=args.port if args.port is not None else port_from_environment(),
        revision_tag=args.revision_tag,
        service_name=args.service,
        secrets_project=None if _on_emulator() else project,
        create_topic=_on_emulator(),  # locally the topic may not exist yet; in the cloud `deploy` creates it
        heartbeat_interval=_or(args.heartbeat_interval, handling.DEFAULT_HEARTBEAT_INTERVAL),
        max_concurrent_questions=_or(args.max_concurrent_questions, handling.DEFAULT_MAX_CONCURRENT_QUESTIONS),
        max_queued_questions=_or(args.max_queued_questions, handling.DEFAULT_MAX_QUEUED_QUESTIONS),
        question_timeout=args.question_timeout,
        log_level="debug" if getattr(args, "debug", False) else str(getattr(args, "log_level", "info")).lower(),
    )
    server.serve(settings)
    return 0


def resolve_project(project: str | None) -> str:
    """`project`, else the configured one ($GOOGLE_CLOUD_PROJECT...), else the local project on the emulator, else
    the project of Google's default credentials (on Cloud Run, the service's own)."""
    from octue_beam.environment import LOCAL_PROJECT, configured_project

    chosen = configured_project(project)
    if chosen:
        return chosen
    if _on_emulator():
        return LOCAL_PROJECT
    try:
        import google.auth

        _, chosen = google.auth.default()
    except Exception as error:  # noqa: BLE001 - any failure means: say which project
        raise CommandError(
            f"No Google Cloud project: give --project or set $GOOGLE_CLOUD_PROJECT ({type(error).__name__}: {error})."
        ) from None
    if not chosen:
        raise CommandError("No Google Cloud project: give --project or set $GOOGLE_CLOUD_PROJECT.")
    return chosen


def port_from_environment() -> int:
    """$PORT (Cloud Run sets it), else `DEFAULT_PORT`; a $PORT that is not a port is a CommandError."""
    value = os.environ.get(PORT_VARIABLE)
    if not value:
        return DEFAULT_PORT
    try:
        return _port(value)
    except argparse.ArgumentTypeError as error:
        raise CommandError(f"${PORT_VARIABLE}: {error}") from None


def _on_emulator() -> bool:
    from octue_beam.environment import pubsub_emulator_host

    return bool(pubsub_emulator_host())


def _topic(services_topic: str | None, project: str) -> str:
    """The full path of the services topic (a name is taken in `project`)."""
    from octue_beam.messaging.pubsub import parse_topic, topic_path

    try:
        return topic_path(*parse_topic(services_topic, project))
    except ValueError as error:
        raise CommandError(f"--services-topic: {error}") from None


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number.") from None
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number (1 to 65535).")
    return port


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number.") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} must be at least 1.")
    return number


def _positive_seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds.") from None
    if not seconds > 0 or seconds != seconds or seconds == float("inf"):
        raise argparse.ArgumentTypeError(f"{value!r} must be a positive number of seconds.")
    return seconds
