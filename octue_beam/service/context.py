"""Which question the code running in this thread belongs to (so log handlers can route records)."""

import contextlib
import contextvars
from typing import Iterator

_current_question: contextvars.ContextVar[str | None] = contextvars.ContextVar("octue_beam_question", default=None)


def current_question() -> str | None:
    """UUID of the question whose app is running in this context, or None."""
    return _current_question.get()


@contextlib.contextmanager
def question_context(question_uuid: str) -> Iterator[None]:
    token = _current_question.set(question_uuid)
    try:
        yield
    finally:
        _current_question.reset(token)


# --- where monitor messages of children go by default (set by the answering side, read by `octue_beam.ask`) --------

_monitor_forwarder: contextvars.ContextVar = contextvars.ContextVar("octue_beam_monitor_forwarder", default=None)


def current_monitor_forwarder():  # -> Callable[[Any], None] | None
    """The function that sends a monitor message to the parent of the question being answered here, or None.

    `octue_beam.ask` (and `Child.ask`) called without `handle_monitor_message` inside an app pass their child's
    monitor messages to it, so monitor messages of a grandchild reach the originator.
    """
    return _monitor_forwarder.get()


@contextlib.contextmanager
def monitor_forwarder_context(forward) -> Iterator[None]:  # forward: Callable[[Any], None] | None
    """Set the monitor forwarder for code run in this context (the answering side wraps the app run in it)."""
    token = _monitor_forwarder.set(forward)
    try:
        yield
    finally:
        _monitor_forwarder.reset(token)
