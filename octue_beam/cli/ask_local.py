"""`octue-beam ask-local [SERVICE_DIR] --input-values JSON_OR_FILE`: run a service's app once, locally, no Pub/Sub."""

import argparse
import json
import logging
from typing import Any

from octue_beam import serialisation
from octue_beam.cli.arguments import load_json_argument

logger = logging.getLogger(__name__)


def add_parser(subparsers: Any) -> None:
    """Register the `ask-local` command."""
    parser = subparsers.add_parser(
        "ask-local",
        help="Run a service's app once, locally, on the given inputs and print the result as JSON.",
        description=(
            "Load the service in SERVICE_DIR (its octue.yaml, twine.json and app), validate the inputs against the "
            "twine, run the app once, validate its outputs and print the result event as JSON on stdout. Logs go "
            "to stderr. No Pub/Sub is used. Exit code 0 on success, 1 on any validation or app error."
        ),
    )
    parser.add_argument("service_dir", nargs="?", default=".", help="folder of the service's octue.yaml (default: .)")
    parser.add_argument("--input-values", help="input values as JSON, or the path of a JSON file")
    parser.add_argument("--input-manifest", help="input manifest as JSON, or the path of a JSON file")
    parser.add_argument("--question-uuid", help="UUID to give the analysis (default: a new one)")
    parser.add_argument(
        "--revision-tag", help="revision tag of the service (default: $OCTUE_SERVICE_REVISION_TAG or 'local')"
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Run the app once and print its result event; errors propagate to `main` (one paragraph, exit code 1)."""
    # Imported when the command runs, not with the parser: running an app loads jsonschema, the data resources and
    # the storage client, which `--help` and the other commands do not need.
    from octue_beam.service.local import run_locally

    input_values = load_json_argument(args.input_values, "--input-values")
    input_manifest = load_json_argument(args.input_manifest, "--input-manifest")
    analysis = run_locally(
        args.service_dir,
        input_values=input_values,
        input_manifest=input_manifest,
        question_uuid=args.question_uuid,
        revision_tag=args.revision_tag,
        handle_monitor_message=lambda data: logger.info("Monitor message: %s", json.dumps(data)),
    )
    print(serialisation.dumps(analysis.result_event(), indent=2))
    return 0
