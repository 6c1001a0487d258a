"""`ServiceOptions`: the pipeline options of a service pipeline.

Every option a Flex Template passes as a parameter must be a declared pipeline option, so all of them live
here (Beam's own options, like `--runner`, `--project` and `--streaming`, pass through unchanged).
"""

import argparse
import os

from apache_beam.options.pipeline_options import PipelineOptions

from octue_beam.messaging.parsing import MAX_MESSAGE_BYTES
from octue_beam.pipeline.worker import (
    DEFAULT_HEARTBEAT_INTERVAL,
    DEFAULT_MAX_CONCURRENT_QUESTIONS,
    DEFAULT_MAX_QUEUED_QUESTIONS,
    DEFAULT_QUESTION_TIMEOUT,
    DEFAULT_SEEN_QUESTIONS,
    DEFAULT_SEEN_TTL,
)

DEFAULT_MAX_MESSAGE_BYTES = MAX_MESSAGE_BYTES
DEFAULT_LOCAL_PULL_SIZE = 100
REVISION_TAG_VARIABLE = "OCTUE_SERVICE_REVISION_TAG"


class ServiceOptions(PipelineOptions):
    """Options of a service pipeline (`--service_dir`, `--revision_tag`, `--subscription`, ...)."""

    @classmethod
    def _add_argparse_args(cls, parser) -> None:  # Beam's parser type
        parser.add_argument(
            "--service_dir",
            default=".",
            help="Folder of the service's octue.yaml, twine.json and app (default: the current directory).",
        )
        parser.add_argument(
            "--service_name",
            default=None,
            help=(
                "Which service of octue.yaml to serve when it lists several "
                "(default: the only one, else $OCTUE_SERVICE_NAME)."
            ),
        )
        parser.add_argument(
            "--revision_tag",
            default=None,
            help=(
                f"Revision tag of the service (default: ${REVISION_TAG_VARIABLE}, "
                "else what octue.yaml/load_service gives)."
            ),
        )
        parser.add_argument(
            "--services_topic",
            default=None,
            help=(
                "Name (or full path) of the services topic "
                "(default: $TWINED_SERVICES_TOPIC_NAME or main.octue.twined.services)."
            ),
        )
        parser.add_argument(
            "--subscription",
            default=None,
            help=(
                "Name (or full path) of the subscription to read questions from "
                "(default: the Pub/Sub form of the SRUID)."
            ),
        )
        parser.add_argument(
            "--heartbeat_interval",
            type=float,
            default=DEFAULT_HEARTBEAT_INTERVAL,
            help="Seconds between heartbeat events while a question runs; the first is sent at once (default: 60).",
        )
        parser.add_argument(
            "--max_concurrent_questions",
            type=int,
            default=DEFAULT_MAX_CONCURRENT_QUESTIONS,
            help="Questions answered at the same time by one worker process (thread pool size, default: 10).",
        )
        parser.add_argument(
            "--question_timeout",
            type=positive_seconds,
            default=None,
            help=(
                "Seconds a question may run before it is answered with a QuestionTimeLimitExceeded exception and its "
                f"slot goes to the next question (default: octue.yaml's question_timeout, else "
                f"{DEFAULT_QUESTION_TIMEOUT:g})."
            ),
        )
        parser.add_argument(
            "--max_queued_questions",
            type=int,
            default=DEFAULT_MAX_QUEUED_QUESTIONS,
            help=(
                "Questions a worker process accepts and keeps waiting while every slot is busy; beyond that it takes "
                f"no more until one ends (default: {DEFAULT_MAX_QUEUED_QUESTIONS})."
            ),
        )
        parser.add_argument(
            "--dead_letter_topic",
            default=None,
            help="Name (or full path) of a topic for messages that cannot be answered (default: they are logged).",
        )
        parser.add_argument(
            "--max_message_bytes",
            type=int,
            default=DEFAULT_MAX_MESSAGE_BYTES,
            help="Question messages with more data bytes than this are rejected (default: 10000000).",
        )
        parser.add_argument(
            "--seen_questions_capacity",
            type=int,
            default=DEFAULT_SEEN_QUESTIONS,
            help=(
                "How many (question_uuid, retry_count) pairs each worker remembers to drop duplicates "
                "(default: 50000)."
            ),
        )
        parser.add_argument(
            "--seen_questions_ttl",
            type=float,
            default=DEFAULT_SEEN_TTL,
            help="Seconds a seen question is remembered for duplicate detection (default: 3600).",
        )
        parser.add_argument(
            "--local_pull_size",
            type=int,
            default=DEFAULT_LOCAL_PULL_SIZE,
            help="Messages per Pub/Sub pull on the local runner (Beam's default is 10; default here: 100).",
        )
        parser.add_argument(
            "--record_answers",
            type=parse_bool,
            nargs="?",
            const=True,
            default=False,
            help="Apply the RecordAnswers branch to the final events (the place for an event store or other sinks).",
        )
        parser.add_argument(
            "--use_id_label",
            default=None,
            help=(
                "Pub/Sub attribute used by Dataflow to deduplicate deliveries (default: 'uuid' on Dataflow, off "
                "elsewhere; the DirectRunner does not support it). Use 'none' to turn it off."
            ),
        )


def positive_seconds(value: object) -> float:
    """A time limit option value: a positive, finite number of seconds."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds.") from None
    if not 0 < seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"{value!r} must be a positive number of seconds.")
    return seconds


def parse_bool(value: object) -> bool:
    """A boolean option value as Flex Template parameters give it (`true`/`false`, `1`/`0`, `yes`/`no`)."""
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off", ""):
        return False
    raise ValueError(f"{value!r} is not a boolean (use true or false).")


def revision_tag_from(options: PipelineOptions) -> str | None:
    """The revision tag: `--revision_tag`, else env OCTUE_SERVICE_REVISION_TAG, else None (load_service decides)."""
    return options.view_as(ServiceOptions).revision_tag or os.environ.get(REVISION_TAG_VARIABLE) or None


def template_parameters() -> list[dict]:
    """Flex Template metadata `parameters` for every ServiceOptions option (all optional; `name`, `label`, `helpText`).

    Each is a declared pipeline option, so the launch file accepts it as `--<name>=<value>`.
    """
    parser = argparse.ArgumentParser(add_help=False)
    ServiceOptions._add_argparse_args(parser)
    parameters = []
    for action in parser._actions:  # argparse keeps no public list of its arguments
        name = action.option_strings[0].lstrip("-") if action.option_strings else action.dest
        parameters.append(
            {
                "name": name,
                "label": name.replace("_", " ").capitalize(),
                "helpText": action.help or "",
                "isOptional": True,
            }
        )
    return parameters
