"""Asynchronous questions: sent at once, answered later.

`ask(..., asynchronous=True)` registers the question with the process's answer listener, which keeps buffering
its events, and has the process's `AskingSession` track it; `get_answer` and `get_events` read them later, in the
calling thread (logs are re-emitted and monitor messages handled when they are read). This works in the asking
process while it lives; across processes, read a question's events from the event store instead. Questions never
read keep their events in memory until `forget(question_uuid)` (or `get_answer`, which forgets the question once it
finished).
"""

import math
import time
from typing import Any

from octue_beam.asking.session import TrackedQuestion, default_session


def _get(question_uuid: str) -> TrackedQuestion:
    tracked = default_session().tracked(question_uuid)
    if tracked is None:
        raise KeyError(
            f"Question {question_uuid} was not asked asynchronously in this process, or was forgotten; read its "
            "events from the event store instead."
        )
    return tracked


def get_events(question_uuid: str) -> list[dict]:
    """The events of an asynchronous question received so far (`{"event", "attributes"}`, oldest first).

    Does not block. Their logs are re-emitted and monitor messages handled now, in the calling thread.
    """
    tracked = _get(question_uuid)
    with tracked.lock:
        tracked.waiter.wait(until=time.monotonic())
        return list(tracked.question.received_events)


def get_answer(question_uuid: str, timeout: float | None = None) -> Any:
    """The answer of an asynchronous question (`{"output_values", "output_manifest"}`), waiting for it at most
    `timeout` seconds in this call (None: as long as the question's own timeouts allow).

    Raises the question's error (or returns it when it was asked with `raise_errors=False`), and `TimeoutError`
    if this call's `timeout` passes first (the question stays tracked: call again later). Retries apply as given to
    `ask`. A finished question is forgotten.
    """
    tracked = _get(question_uuid)
    until = math.inf if timeout is None else time.monotonic() + timeout
    with tracked.lock:
        tracked.waiter.wait(until=until)
        if not tracked.question.done:
            raise TimeoutError(
                f"Question {question_uuid} is not answered yet after waiting {timeout:g} s in get_answer (it is still "
                "being waited for: call get_answer again later)."
            )
    forget(question_uuid)
    answer, _ = tracked.question.outcome()
    return answer


def forget(question_uuid: str) -> None:
    """Stop buffering the events of an asynchronous question. Idempotent."""
    tracked = default_session().forget(question_uuid)
    if tracked is not None:
        tracked.listener.unregister(question_uuid)
