"""`octue-beam events replay --question-uuid U [--store DIR | --table T] [--speed X]`: replay a recorded question's
logs and monitor messages on stderr as `ask` shows them live, then print its answer on stdout as the answer JSON of
`ask`, `ask-local` and `run --ask` (`cli.answers`), or its error in one line, exit code 1 (docs/events.md).
"""

import argparse
from typing import Any

from octue_beam.cli.arguments import CommandError
from octue_beam.cli.event_stores import add_store_arguments, read, store_of


def add_parser(subparsers: Any) -> None:
    """Register `events replay`."""
    parser = subparsers.add_parser(
        "replay",
        help="Replay a recorded question's logs and monitor messages as if live, and print its answer.",
        description=(
            "Read a question's events from an event store and play them back: its service's log records on stderr "
            "with the service's prefix and its monitor messages as `ask` shows them, then its answer on stdout as "
            'JSON {"question_uuid", "output_values", "output_manifest"} (as ask, ask-local and run --ask print '
            "it), or the service's error in one line and exit code 1. Only the question's last attempt is played "
            "when it was retried. With --speed, events are as far apart as they were recorded (divided by the "
            "speed, at most 5 s a gap)."
        ),
    )
    parser.add_argument("--question-uuid", required=True, metavar="UUID", help="the question to replay")
    parser.add_argument(
        "--speed", type=float, default=0, metavar="X",
        help="wait between events as recorded, X times faster (default: 0, no waiting)",
    )
    add_store_arguments(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Replay the question; print its answer, or raise its error as a CommandError."""
    from octue_beam.cli.answers import answer_json, failure_message, log_monitor_message, print_answer
    from octue_beam.events.replay import EventReplayer

    if args.speed < 0:
        raise CommandError(f"--speed must be 0 or more, not {args.speed:g}")
    rows = read(args, question_uuid=args.question_uuid)
    if not rows:
        raise CommandError(f"no recorded events of question {args.question_uuid} in {store_of(args)}")
    replayer = EventReplayer(handle_monitor_message=log_monitor_message, speed=args.speed)
    try:
        answer = replayer.play(rows, question_uuid=args.question_uuid)
    except Exception as error:  # the question's own error, as `ask` reports it
        message = failure_message(_service(rows), error)
        if message is None or args.debug:
            raise
        raise CommandError(message) from None
    if answer is None:
        raise CommandError(
            f"the recorded events of question {args.question_uuid} hold no result or exception: it was not answered "
            "(yet), or its answer was not recorded"
        )
    print_answer(answer_json(args.question_uuid, answer.get("output_values"), answer.get("output_manifest")))
    return 0


def _service(rows: list[dict]) -> str:
    """The service asked: the recipient of the question, else the sender of its responses."""
    for row in rows:
        if row["kind"] == "question":
            return row["recipient"]
    return rows[0]["sender"]
