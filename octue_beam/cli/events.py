"""`octue-beam events get|replay|timeline ...`: read recorded events (docs/events.md).

Each subcommand is a module of this package with `add_parser(subparsers)`; it imports what does the work (pyarrow,
BigQuery, matplotlib) only when its handler runs.
"""

from types import ModuleType
from typing import Any

from octue_beam.cli import events_get, events_replay, events_timeline

SUBCOMMANDS: tuple[ModuleType, ...] = (events_get, events_replay, events_timeline)


def add_parser(subparsers: Any) -> None:
    """Register the `events` command and its subcommands."""
    parser = subparsers.add_parser(
        "events",
        help="Read recorded events: print them, replay a question, or draw a question tree's timeline.",
        description=(
            "Read the events `record-events` keeps (a local folder of Parquet files, or a BigQuery table): `events "
            "get` prints them as JSON lines, `events replay` replays a question's logs and monitor messages as if "
            "live and prints its result, `events timeline` draws a question tree over time (PNG or HTML). See "
            "docs/events.md."
        ),
    )
    subcommands = parser.add_subparsers(
        dest="subcommand", metavar="SUBCOMMAND", required=True, parser_class=type(parser)
    )
    for subcommand in SUBCOMMANDS:
        subcommand.add_parser(subcommands)
