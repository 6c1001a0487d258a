"""`octue-beam events get [--question-uuid U | --parent-question-uuid U | --originator-question-uuid U] ...`: print
recorded events as JSON lines, oldest first (docs/events.md).

Each line is one event-store row: the columns of docs/protocol.md, `event` with its `kind`, `other_attributes` and
`backend_metadata` as JSON objects, `datetime` in ISO 8601 (UTC). Beam is never imported; the store reader is
imported when the command runs.
"""

import argparse
import os
import sys
from typing import Any

from octue_beam.cli.event_stores import add_store_arguments, read


def add_parser(subparsers: Any) -> None:
    """Register `events get`."""
    parser = subparsers.add_parser(
        "get",
        help="Print recorded events as JSON lines (a question's, a question's children's or a whole tree's).",
        description=(
            "Print the events of an event store (record-events' folder, or a BigQuery table) as JSON lines, oldest "
            "first: one row per line with the columns of docs/protocol.md ('Event store row'), the event with its "
            "kind. Choose a question (--question-uuid), the questions it asked (--parent-question-uuid) or a whole "
            "tree (--originator-question-uuid), or none for every event; keep only some kinds (--kinds) or leave "
            "some out (--exclude-kinds), only events since a date or time (--since), and the newest --limit of them "
            "(--oldest: the oldest). Filters are applied by the store (pyarrow dataset filters on the Parquet "
            "files, parameterised SQL on BigQuery)."
        ),
    )
    chosen = parser.add_mutually_exclusive_group()
    chosen.add_argument("--question-uuid", metavar="UUID", help="the events of this question")
    chosen.add_argument(
        "--parent-question-uuid", metavar="UUID", help="the events of the questions this question's app asked"
    )
    chosen.add_argument(
        "--originator-question-uuid", metavar="UUID", help="the events of the whole tree of this root question"
    )
    kinds = parser.add_mutually_exclusive_group()
    kinds.add_argument(
        "--kinds", "-k", nargs="+", metavar="KIND",
        help="only these kinds (question, delivery_acknowledgement, heartbeat, log_record, monitor_message, "
        "exception, result; space- or comma-separated)",
    )
    kinds.add_argument("--exclude-kinds", "-e", nargs="+", metavar="KIND", help="all kinds but these")
    parser.add_argument("--since", metavar="DATE", help="only events at or after this date or time (ISO 8601, UTC)")
    parser.add_argument("--limit", "-l", type=int, metavar="N", help="at most N events: the newest N (default: all)")
    parser.add_argument("--oldest", action="store_true", help="with --limit, the oldest N events instead")
    add_store_arguments(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Read the events and print one JSON line per event."""
    from octue_beam import serialisation
    from octue_beam.events.rows import json_row

    rows = read(
        args,
        question_uuid=args.question_uuid,
        parent_question_uuid=args.parent_question_uuid,
        originator_question_uuid=args.originator_question_uuid,
        kinds=_split(args.kinds),
        exclude_kinds=_split(args.exclude_kinds),
        since=args.since,
        limit=args.limit,
        tail=not args.oldest,
    )
    try:
        for row in rows:
            sys.stdout.write(serialisation.dumps(json_row(row)) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # a reader that went away (`| head`) is not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def _split(kinds: list[str] | None) -> list[str] | None:
    """`["a,b", "c"]` -> `["a", "b", "c"]` (Octue's CLI takes comma-separated kinds)."""
    if kinds is None:
        return None
    return [kind.strip() for value in kinds for kind in value.split(",") if kind.strip()]
