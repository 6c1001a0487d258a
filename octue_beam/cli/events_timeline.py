"""`octue-beam events timeline --originator-question-uuid U --output FILE.png|FILE.html [--store DIR | --table T]`:
draw a recorded question tree over time (docs/events.md, "Timeline").

The PNG is drawn with matplotlib (the optional `timeline` extra), the HTML page needs nothing. The store reader,
the model and matplotlib are imported when the command runs, never by `--help`.
"""

import argparse
from pathlib import Path
from typing import Any

from octue_beam.cli.arguments import CommandError
from octue_beam.cli.event_stores import add_store_arguments, read, store_of

FORMATS = {".png": "png", ".html": "html", ".htm": "html"}


def add_parser(subparsers: Any) -> None:
    """Register `events timeline`."""
    parser = subparsers.add_parser(
        "timeline",
        help="Draw a recorded question tree over time, as a PNG picture or an HTML page.",
        description=(
            "Draw the question tree of an originator question from an event store: a row per question (indented "
            "under the question that asked it, named by its service and short question UUID), a bar from question "
            "to answer coloured by outcome (answered, failed, no answer yet), markers for the delivery "
            "acknowledgement, heartbeats, log records, monitor messages and the exception, and a line from each "
            "parent to each child at the moment it was asked; time in seconds since the originator's question. "
            "FILE.png is a picture (needs matplotlib: pip install 'octue_beam[timeline]'); FILE.html is one "
            "self-contained page with hover details (each event's kind, time and text) and a table of the "
            "questions. See docs/events.md."
        ),
    )
    parser.add_argument(
        "--originator-question-uuid", required=True, metavar="UUID",
        help="the root question of the tree (every event of the tree carries it as originator_question_uuid)",
    )
    parser.add_argument(
        "--output", required=True, metavar="FILE",
        help="where to write the timeline: FILE.png (a picture) or FILE.html (a page with hover details)",
    )
    add_store_arguments(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Read the tree's events, build its timeline and draw it; bad arguments, an unknown tree or a missing extra are
    a CommandError."""
    output = Path(args.output)
    kind = FORMATS.get(output.suffix.lower())
    if kind is None:
        raise CommandError(
            f"--output {args.output!r} must end in .png (a picture) or .html (a page with hover details)."
        )
    if not output.parent.is_dir():
        raise CommandError(f"--output {args.output!r}: there is no folder {str(output.parent)!r} to write it in.")
    # Imported when the command runs: matplotlib is slow to import and --help needs none of these.
    from octue_beam.events.timeline import Timeline

    if kind == "png":
        from octue_beam.events.timeline_png import MissingExtra, require_matplotlib
        from octue_beam.events.timeline_png import draw_png as draw

        try:
            require_matplotlib()  # before reading the store: say what to install at once
        except MissingExtra as error:
            raise CommandError(str(error)) from None
    else:
        from octue_beam.events.timeline_html import draw_html as draw

    rows = read(args, originator_question_uuid=args.originator_question_uuid)  # errors are CommandErrors
    if not rows:
        raise CommandError(
            f"The event store {store_of(args)} holds no events of the question tree {args.originator_question_uuid} "
            f"(check the UUID: it is the question_uuid of the tree's first question, as `events get` prints it)."
        )
    try:
        timeline = Timeline.from_rows(rows, args.originator_question_uuid)
    except ValueError as error:
        raise CommandError(f"The store {store_of(args)} holds an event the timeline cannot read: {error}") from None
    try:
        draw(timeline, output)
    except OSError as error:
        raise CommandError(f"Cannot write the timeline to {args.output!r}: {error.strerror or error}.") from None
    except ValueError as error:  # a tree too big for one PNG
        raise CommandError(str(error)) from None
    print(f"Wrote the timeline of {timeline.summary()}, to {output}.")
    return 0
