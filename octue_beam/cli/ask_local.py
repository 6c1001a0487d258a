"""`octue-beam ask-local [SERVICE_DIR] --input-values JSON_OR_FILE`: run a service's app once, locally, no Pub/Sub."""

import argparse
from typing import Any

from octue_beam.cli.answers import answer_json, log_monitor_message, print_answer, stdout_to_stderr
from octue_beam.cli.arguments import load_json_argument


def add_parser(subparsers: Any) -> None:
    """Register the `ask-local` command."""
    parser = subparsers.add_parser(
        "ask-local",
        help="Run a service's app once, locally, on the given inputs and print the answer as JSON.",
        description=(
            "Load the service in SERVICE_DIR (its octue.yaml, twine.json and app), validate the inputs against the "
            "twine, run the app once, validate its outputs and print the answer on stdout as JSON "
            '{"question_uuid", "output_values", "output_manifest"} (as `ask` and `run --ask` do). Logs, monitor '
            "messages and whatever the app prints go to stderr, so stdout holds the answer only. No Pub/Sub is "
            "used. Exit code 0 on success, 1 on any validation or app error."
        ),
    )
    parser.add_argument("service_dir", nargs="?", default=".", help="folder of the service's octue.yaml (default: .)")
    parser.add_argument("--input-values", help="input values as JSON, or the path of a JSON file")
    parser.add_argument("--input-manifest", help="input manifest as JSON, or the path of a JSON file")
    parser.add_argument("--question-uuid", help="UUID to give the analysis (default: a new one)")
    parser.add_argument(
        "--revision-tag", help="revision tag of the service (default: $OCTUE_SERVICE_REVISION_TAG or 'local')"
    )
    parser.add_argument(
        "--service", metavar="NAME", help="which service of SERVICE_DIR's octue.yaml, when it lists several"
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Run the app once and print its answer; errors propagate to `main` (one paragraph, exit code 1)."""
    # Imported when the command runs, not with the parser: running an app loads jsonschema, the data resources and
    # the storage client, which `--help` and the other commands do not need.
    from octue_beam.service.local import run_locally

    input_values = load_json_argument(args.input_values, "--input-values")
    input_manifest = load_json_argument(args.input_manifest, "--input-manifest")
    with stdout_to_stderr():
        analysis = run_locally(
            args.service_dir,
            input_values=input_values,
            input_manifest=input_manifest,
            question_uuid=args.question_uuid,
            revision_tag=args.revision_tag,
            handle_monitor_message=log_monitor_message,
            service_name=args.service,
        )
        result = analysis.result_event()
    print_answer(answer_json(analysis.id, result.get("output_values"), result.get("output_manifest")))
    return 0
