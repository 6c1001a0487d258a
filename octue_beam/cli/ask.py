"""`octue-beam ask SERVICE_ID --input-values JSON_OR_FILE ...`: ask a running service a question over Pub/Sub.

Prints the answer as JSON on stdout (logs, including the child's forwarded logs, and its monitor messages go to
stderr). Exit code 1 with a one-line error when the child raised, nothing answered in time, or the arguments are
wrong. On the storage emulator, the local datasets of `--input-manifest` are uploaded to it first (`cli.manifests`).
"""

import argparse
import os
from typing import Any

from octue_beam.cli.answers import answer_json, failure_message, log_monitor_message, print_answer
from octue_beam.cli.arguments import CommandError, load_json_argument
from octue_beam.cli.signals import sigterm_as_keyboard_interrupt
from octue_beam.exceptions import QuestionTimeout
from octue_beam.messaging.attributes import SAVE_DIAGNOSTICS_MODES, SAVE_DIAGNOSTICS_ON_CRASH


def add_parser(subparsers: Any) -> None:
    """Register the `ask` command."""
    parser = subparsers.add_parser(
        "ask",
        help="Ask a running service a question over Pub/Sub and print its answer as JSON.",
        description=(
            "Send a question to the service SERVICE_ID (an SRUID 'namespace/name:revision_tag', or 'namespace/name' "
            "resolved through --service-registry) on the services "
            "topic and wait for its answer, which is printed on stdout as JSON "
            '{"question_uuid", "output_values", "output_manifest"} (as `ask-local` and `run --ask` do). The child\'s '
            "logs and monitor messages are shown on stderr. Uses the Pub/Sub emulator at $PUBSUB_EMULATOR_HOST when "
            "set, else the project given by --project or $GOOGLE_CLOUD_PROJECT. With the storage emulator "
            "($STORAGE_EMULATOR_HOST), local datasets named by --input-manifest are uploaded to it first (and the "
            "question names their gs:// paths), unless --allow-local-files. Exit code 1 if the service raised an "
            "error or did not answer in time."
        ),
    )
    parser.add_argument("service_id", metavar="SERVICE_ID", help="SRUID of the service to ask")
    parser.add_argument("--input-values", help="input values as JSON, or the path of a JSON file")
    parser.add_argument("--input-manifest", help="input manifest as JSON, or the path of a JSON file")
    parser.add_argument("--timeout", type=float, default=4200, help="seconds to wait for the answer (default: 4200)")
    parser.add_argument(
        "--maximum-heartbeat-interval",
        type=float,
        default=360,
        help="give up when the service sends nothing for this many seconds (default: 360)",
    )
    parser.add_argument(
        "--delivery-acknowledgement-timeout",
        type=float,
        default=3600,
        help="give up when the service has not acknowledged the question after this many seconds (default: 3600)",
    )
    parser.add_argument(
        "--max-retries", type=int, default=0, help="ask again (same question UUID) this many times on failure"
    )
    parser.add_argument(
        "--service-registry",
        action="append",
        metavar="URL",
        help="service registry endpoint resolving a SERVICE_ID without a revision tag (may be repeated)",
    )
    parser.add_argument("--project", help="Google Cloud project (default: $GOOGLE_CLOUD_PROJECT, or the emulator's)")
    parser.add_argument(
        "--asynchronous", action="store_true", help="send the question and print its UUID without waiting"
    )
    parser.add_argument("--question-uuid", help="UUID to give the question (default: a new one)")
    parser.add_argument("--no-logs", action="store_true", help="do not ask the service to forward its logs")
    parser.add_argument(
        "--allow-local-files", action="store_true", help="allow an input manifest with local paths (local services)"
    )
    parser.add_argument(
        "--save-diagnostics", choices=SAVE_DIAGNOSTICS_MODES, default=SAVE_DIAGNOSTICS_ON_CRASH, help=argparse.SUPPRESS
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Ask the question and print the answer (or, with `--asynchronous`, the question's UUID) as JSON."""
    # Imported when the command runs, not with the parser: asking loads the Pub/Sub and gRPC clients, which `--help`
    # and the other commands do not need.
    from octue_beam.asking import ask
    from octue_beam.asking.session import close_listeners
    from octue_beam.cli.manifests import upload_local_datasets

    input_values = load_json_argument(args.input_values, "--input-values")
    input_manifest = load_json_argument(args.input_manifest, "--input-manifest")
    if input_manifest is not None and not args.allow_local_files and os.environ.get("STORAGE_EMULATOR_HOST"):
        input_manifest = upload_local_datasets(input_manifest, "--input-manifest")
    registries = [{"name": url, "endpoint": url} for url in args.service_registry] if args.service_registry else None
    try:
        with sigterm_as_keyboard_interrupt():
            answer, question_uuid = ask(
                args.service_id,
                input_values=input_values,
                input_manifest=input_manifest,
                timeout=args.timeout,
                maximum_heartbeat_interval=args.maximum_heartbeat_interval,
                delivery_acknowledgement_timeout=args.delivery_acknowledgement_timeout,
                max_retries=args.max_retries,
                service_registries=registries,
                asynchronous=args.asynchronous,
                question_uuid=args.question_uuid,
                subscribe_to_logs=not args.no_logs,
                save_diagnostics=args.save_diagnostics,
                project=args.project,
                allow_local_files=args.allow_local_files,
                handle_monitor_message=log_monitor_message,
            )
    except QuestionTimeout as error:
        if args.debug:
            raise
        raise CommandError(str(error)) from None
    except Exception as error:  # a child's error becomes one line; anything else propagates
        message = failure_message(args.service_id, error)
        if args.debug or message is None:
            raise
        raise CommandError(message) from None
    finally:
        close_listeners()

    if answer is None:  # --asynchronous
        print_answer({"question_uuid": question_uuid})
    else:
        print_answer(answer_json(question_uuid, answer.get("output_values"), answer.get("output_manifest")))
    return 0
