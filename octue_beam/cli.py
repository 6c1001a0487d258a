"""The command-line tool: `python -m octue_beam <command>` (also installed as `octue-beam`).

Each command lives in a small `add_<name>_parser(subparsers)` function that registers its arguments and sets
`handler`; `COMMANDS` lists them in the order `--help` shows them. Handlers return an exit code.
"""

import argparse
import json
import logging
import os
import sys
from typing import Any, Callable, Sequence

from octue_beam import __version__

logger = logging.getLogger(__name__)


def _load_json_argument(value: str | None, what: str) -> Any:
    """A JSON value given inline or as the path of a JSON file."""
    if value is None:
        return None
    if os.path.isfile(value):
        with open(value) as f:
            text = f.read()
        where = f"file {value!r}"
    else:
        text = value
        where = "the command line"
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise CommandError(f"{what} from {where} is not valid JSON: {error}") from None


class CommandError(Exception):
    """A user error in a command's arguments: printed as one paragraph, exit code 1."""


# --- ask-local ------------------------------------------------------------------------------------


def add_ask_local_parser(subparsers: Any) -> None:
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
    parser.add_argument("--revision-tag", help="revision tag of the service (default: $OCTUE_SERVICE_REVISION_TAG or 'local')")
    parser.set_defaults(handler=_ask_local)


def _ask_local(args: argparse.Namespace) -> int:
    from octue_beam.service.local import run_locally

    input_values = _load_json_argument(args.input_values, "--input-values")
    input_manifest = _load_json_argument(args.input_manifest, "--input-manifest")
    analysis = run_locally(
        args.service_dir,
        input_values=input_values,
        input_manifest=input_manifest,
        question_uuid=args.question_uuid,
        revision_tag=args.revision_tag,
        handle_monitor_message=lambda data: logger.info("Monitor message: %s", json.dumps(data)),
    )
    from octue_beam import serialisation

    print(serialisation.dumps(analysis.result_event(), indent=2))
    return 0


# --- registry -------------------------------------------------------------------------------------

COMMANDS: list[Callable[[Any], None]] = [add_ask_local_parser]


def _register_optional_commands() -> None:
    """Commands defined in other modules, registered when those modules are present."""
    import importlib

    for module_name, function_name in (
        ("octue_beam.pipeline.command", "add_run_parser"),
        ("octue_beam.asking.command", "add_ask_parser"),
        ("octue_beam.service.diagnostics_command", "add_diagnostics_parser"),
    ):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name != module_name:
                raise
            continue
        adder = getattr(module, function_name)
        if adder not in COMMANDS:
            COMMANDS.append(adder)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="octue-beam",
        description="Data services that answer questions, run as Apache Beam streaming pipelines.",
    )
    parser.add_argument("--version", action="version", version=f"octue_beam {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks and debug logs")
    parser.add_argument("--log-level", default="INFO", help="log level for stderr (default: INFO)")
    subparsers = parser.add_subparsers(dest="command", metavar="<command>")
    _register_optional_commands()
    for add_parser in COMMANDS:
        add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    # `--debug` works before or after the command's name (`octue-beam ask-local . --debug`).
    debug = "--debug" in argv
    argv = [argument for argument in argv if argument != "--debug"]
    args = parser.parse_args(argv)
    args.debug = debug
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    logging.basicConfig(
        level=logging.DEBUG if args.debug else getattr(logging, str(args.log_level).upper(), logging.INFO),
        stream=sys.stderr,
        format="[%(asctime)s | %(levelname)s | %(name)s] %(message)s",
    )
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # noqa: BLE001 - every error becomes one clear paragraph
        if args.debug:
            raise
        kind = "" if isinstance(error, CommandError) else f"{type(error).__name__}: "
        print(f"octue-beam {args.command}: {kind}{error}", file=sys.stderr)
        print("(run with --debug for the full traceback)", file=sys.stderr)
        return 1
