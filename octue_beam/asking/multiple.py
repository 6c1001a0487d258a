"""`ask_multiple`: many questions at once, waited for together in the calling thread on one events queue."""

import logging
import queue
from collections.abc import Iterable, Sequence
from typing import Any

from octue_beam.asking.delivery import DELIVERY_CHECK_SECONDS, undeliverable
from octue_beam.asking.preparing import build_question
from octue_beam.asking.questions import AskOptions, Question
from octue_beam.asking.sending import register, resender, send_questions, unregister
from octue_beam.asking.session import AskingSession, default_session
from octue_beam.asking.waiting import Waiter

logger = logging.getLogger(__name__)

_RETRY_OPTIONS = ("raise_errors", "max_retries", "prevent_retries_when", "log_errors")


def ask_multiple(
    questions: Iterable[dict],
    max_workers: int | None = None,
    raise_errors: bool = True,
    max_retries: int = 0,
    prevent_retries_when: Sequence[type[BaseException]] | None = None,
    log_errors: bool = True,
) -> list[tuple[Any, str]]:
    """Ask many questions at once; return their `(answer, question_uuid)` in question order.

    Each question is a dict of `octue_beam.ask` keyword arguments, including `service_id`; it may override
    `raise_errors`, `max_retries`, `prevent_retries_when` and `log_errors`. With `raise_errors`, the first question
    that fails (after its retries) raises its error and the others are no longer waited for; without, its error is
    returned in place of its answer. `max_workers` limits how many questions are in flight at once (default: all).
    All questions share the process's answer subscription and are waited for in the calling thread (no thread per
    question). `asynchronous` questions are not supported here: use `ask(..., asynchronous=True)`.
    """
    defaults = {
        "raise_errors": raise_errors,
        "max_retries": max_retries,
        "prevent_retries_when": prevent_retries_when,
        "log_errors": log_errors,
    }
    resolved: dict = {}
    prepared: list[Question] = []
    for index, options in enumerate(questions):
        options = dict(options)
        if options.pop("asynchronous", False):
            raise ValueError(f"Question {index} is asynchronous; ask_multiple waits for answers (use ask instead).")
        if "service_id" not in options:
            raise TypeError(f"Question {index} has no service_id.")
        service_id = options.pop("service_id")
        input_values = options.pop("input_values", None)
        input_manifest = options.pop("input_manifest", None)
        for name in _RETRY_OPTIONS:
            options.setdefault(name, defaults[name])
        prepared.append(build_question(service_id, input_values, input_manifest, AskOptions(**options), resolved))
    uuids = [question.question_uuid for question in prepared]
    if len(set(uuids)) != len(uuids):
        raise ValueError("Two of the questions have the same question_uuid.")
    if not prepared:
        return []
    window = len(prepared) if max_workers is None else max(1, int(max_workers))
    logger.info("Asking %d questions (%d at a time).", len(prepared), window)
    return _ask_all(prepared, window, default_session())


def _ask_all(questions: list[Question], window: int, session: AskingSession) -> list[tuple[Any, str]]:
    events_queue: queue.Queue = queue.Queue()
    waiter = Waiter(events_queue, resender(session), undeliverable, DELIVERY_CHECK_SECONDS)
    listeners: dict = {}
    started = 0
    answered = 0
    try:
        while answered < len(questions):
            if started < len(questions) and len(waiter.pending) < window:
                batch = questions[started : started + window - len(waiter.pending)]
                listeners.update(register(batch, events_queue, session))
                # The first batch is sent and checked before waiting; later ones are sent without blocking the wait.
                send_questions(batch, session, events_queue if started else None)
                waiter.add_all(batch)
                started += len(batch)
            for question in waiter.wait(return_on_finish=True):
                answered += 1
                listeners.pop(question.question_uuid).unregister(question.question_uuid)
                logger.debug("%d of %d answers received.", answered, len(questions))
                if question.error is not None and question.policy.raise_errors:
                    raise question.error
    finally:
        unregister(questions, listeners)
    return [question.outcome() for question in questions]
