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
