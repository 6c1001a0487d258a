"""The command-line tool: `python -m octue_beam <command>` (also installed as `octue-beam`, entry point `main`).

`main` parses the arguments, sets up logging and runs the command's handler, turning its errors into one paragraph
and exit code 1. The commands are listed in `cli.commands`, one module each (`run`, `ask`, `ask_local`,
`diagnostics`); `cli.arguments` and `cli.signals` hold what they share. Nothing here imports Beam: only the `run`
command's pipeline process (and a Dataflow submission) does, through `cli.serving`; a local `run` itself is the
supervisor in `cli.supervising`.
"""

import argparse
import logging
import sys
from collections.abc import Sequence

from octue_beam import __version__
from octue_beam.cli.arguments import CommandError, CommandParser
from octue_beam.cli.commands import COMMANDS

__all__ = ["CommandError", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The parser of `octue-beam` and all its commands."""
    parser = argparse.ArgumentParser(
        prog="octue-beam",
        description="Data services that answer questions, run as Apache Beam streaming pipelines.",
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"octue_beam {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks and debug logs")
    parser.add_argument("--log-level", default="INFO", help="log level for stderr (default: INFO)")
    subparsers = parser.add_subparsers(dest="command", metavar="<command>", parser_class=CommandParser)
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit code (2 with the help when no command is given)."""
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
    except Exception as error:  # every error becomes one clear paragraph
        if args.debug:
            raise
        kind = "" if isinstance(error, CommandError) else f"{type(error).__name__}: "
        print(f"octue-beam {args.command}: {kind}{error}", file=sys.stderr)
        print("(run with --debug for the full traceback)", file=sys.stderr)
        return 1
