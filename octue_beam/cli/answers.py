"""What `ask-local`, `ask` and `run --ask` print, written once so that the three print the same things.

- The answer, alone on stdout, as `{"question_uuid", "output_values", "output_manifest"}` (`answer_json`,
  `print_answer`): the same shape from all three, so a script can switch between them.
- A service's error as one line, `<service> failed to answer question <uuid> with <type>: <message>`
  (`failure_message`); the traceback only with `--debug`.
- Monitor messages as log lines on stderr, `Monitor message: <JSON>` (`log_monitor_message`).
- While an app runs in this process (`ask-local`), what it prints goes to stderr (`stdout_to_stderr`), so stdout
  holds the answer only and can be piped into a JSON tool.
"""

import contextlib
import io
import json
import logging
import os
import sys
from collections.abc import Iterator
from typing import Any

from octue_beam import serialisation

logger = logging.getLogger("octue_beam.cli")


def answer_json(question_uuid: str | None, output_values: Any, output_manifest: Any) -> dict[str, Any]:
    """The answer as the commands print it; a Manifest becomes its JSON form."""
    if hasattr(output_manifest, "to_primitive"):
        output_manifest = output_manifest.to_primitive()
    return {"question_uuid": question_uuid, "output_values": output_values, "output_manifest": output_manifest}


def print_answer(output: dict[str, Any]) -> None:
    """Print `output` as JSON on stdout; a reader that went away (e.g. `| head`) is not an error."""
    try:
        print(serialisation.dumps(output, indent=2))
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def failure_message(service_id: str, error: BaseException) -> str | None:
    """One line for an error a service answered with (an exception re-raised from a remote one); None for any
    other error (a timeout, a local error), which the caller reports its own way."""
    if not hasattr(error, "remote_message"):
        return None
    return (
        f"{service_id} failed to answer question {error.question_uuid} with {error.remote_type}: "
        f"{error.remote_message}"
    )


def log_monitor_message(data: Any) -> None:
    """Show a monitor message on stderr (through logging, as the commands' other messages)."""
    logger.info("Monitor message: %s", json.dumps(data, default=str))


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send everything written to stdout inside the block to stderr: Python's `print` and, when stdout is a real
    file descriptor, what C code and child processes write to it too."""
    sys.stdout.flush()
    try:
        fd = sys.stdout.fileno()
        sys.stderr.fileno()
    except (AttributeError, ValueError, io.UnsupportedOperation):  # e.g. replaced by a test's capture
        fd = None
    saved = None
    if fd is not None:
        sys.stderr.flush()
        saved = os.dup(fd)
        os.dup2(sys.stderr.fileno(), fd)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stderr.flush()
        if saved is not None:
            os.dup2(saved, fd)
            os.close(saved)
