"""Re-emitting a child's forwarded log records in the asking process, prefixed with `[<child SRUID> | <question>]`.

A record forwarded through several levels of services already carries the prefixes of the services below the
child (`[grandchild | q2] message`). On a terminal (stderr is a TTY, and `NO_COLOR` is unset) each prefix is
coloured by its depth below the asker: the child's prefix in the first colour of the palette, the grandchild's in
the second, and so on. Colour codes received from a child are stripped first, so they never pile up.
"""

import logging
import os
import re
import sys
from collections.abc import Mapping
from typing import Any

logger = logging.getLogger(__name__)

# The "colorblind" palette of seaborn/matplotlib, as Octue uses (xterm-256 colour numbers).
PALETTE = (32, 172, 36, 166, 176, 137, 218, 246, 184, 74)

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_PREFIX = re.compile(r"\[([^\[\]|]+?) \| ([^\[\]|]+?)\] ")


def use_colour() -> bool:
    """Colour prefixes only for a person reading a terminal."""
    if os.environ.get("NO_COLOR"):
        return False
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def colourise(text: str, depth: int) -> str:
    return f"\x1b[38;5;{PALETTE[depth % len(PALETTE)]}m{text}\x1b[0m"


def split_prefixes(message: str) -> tuple[list[str], str]:
    """(`["[sruid | uuid]", ...]`, rest) of a message, colour codes removed."""
    message = _ANSI.sub("", message)
    prefixes = []
    position = 0
    while True:
        match = _PREFIX.match(message, position)
        if match is None:
            break
        prefixes.append(match.group(0)[:-1])
        position = match.end()
    return prefixes, message[position:]


def prefixed_message(message: str, sender: str, question_uuid: str, colour: bool | None = None) -> str:
    """`[sender | question_uuid] <message>`, coloured by depth when `colour` (default: `use_colour()`)."""
    existing, rest = split_prefixes(message)
    prefixes = [f"[{sender} | {question_uuid}]", *existing]
    if use_colour() if colour is None else colour:
        prefixes = [colourise(prefix, depth) for depth, prefix in enumerate(prefixes)]
    return " ".join(prefixes) + " " + rest


def emit_log_record(fields: Mapping[str, Any], attributes: Mapping[str, Any]) -> None:
    """Re-emit a forwarded log record through Python logging (in the calling thread), under the child's logger
    name and level, prefixed with its sender and question."""
    fields = dict(fields)
    message = fields.get("msg", "")
    if fields.get("args"):
        try:
            args = tuple(fields["args"]) if isinstance(fields["args"], list) else fields["args"]
            message = str(message) % args
        except (TypeError, ValueError):
            pass
    fields["args"] = None
    fields["exc_info"] = None
    if not isinstance(fields.get("levelno"), int):
        fields["levelno"] = logging.getLevelName(str(fields.get("levelname", "INFO")))
        if not isinstance(fields["levelno"], int):
            fields["levelno"] = logging.INFO
    fields.setdefault("levelname", logging.getLevelName(fields["levelno"]))
    # The thread and process are the asker's (the record is handled here); the child's are kept apart.
    remote = {key: fields.pop(key, None) for key in ("thread", "threadName", "process", "processName")}
    record = logging.makeLogRecord(fields)
    record.msg = prefixed_message(str(message), attributes["sender"], attributes["question_uuid"])
    record.remote_sender = attributes["sender"]
    record.question_uuid = attributes["question_uuid"]
    record.remote_thread_name = remote["threadName"]
    record.remote_process = remote["process"]
    name = record.name if isinstance(record.name, str) and record.name else __name__
    target = logging.getLogger(name)
    if target.isEnabledFor(record.levelno):
        target.handle(record)
