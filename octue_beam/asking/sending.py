"""Sending questions: registering them with their answer listener, then publishing them.

A question is registered BEFORE it is published, so that none of its events can arrive unheard. The publishers and
listeners are those of the given `AskingSession`.
"""

import functools
import queue
from collections.abc import Iterable, Sequence
from typing import Any

from google.api_core import exceptions as api_exceptions

from octue_beam.asking.answers import AnswerListener
from octue_beam.asking.questions import Question
from octue_beam.asking.session import AskingSession
from octue_beam.asking.waiting import PublishFailed, Resend
from octue_beam.exceptions import ServiceNotFound
from octue_beam.messaging import pubsub

PUBLISH_TIMEOUT = 60


def register(
    questions: Iterable[Question], events_queue: queue.Queue, session: AskingSession
) -> dict[str, AnswerListener]:
    """Register the questions with the session's answer listeners; return each question's listener by UUID."""
    listeners: dict[str, AnswerListener] = {}
    try:
        for question in questions:
            listener = session.listener(
                question.project, question.parent_sruid, question.topic_name, question.emulator_host
            )
            listener.register(question.question_uuid, events_queue)
            listeners[question.question_uuid] = listener
    except BaseException:
        unregister(questions, listeners)
        raise
    return listeners


def unregister(questions: Iterable[Question], listeners: dict[str, AnswerListener]) -> None:
    """Unregister the questions from their listeners (those registered)."""
    for question in questions:
        listener = listeners.get(question.question_uuid)
        if listener is not None:
            listener.unregister(question.question_uuid)


def send_questions(
    questions: Sequence[Question], session: AskingSession, failures: queue.Queue | None = None
) -> None:
    """Publish the questions (all at once) and start their watchdogs.

    Without `failures`, wait until Pub/Sub accepted each one (raising the first error). With it, return at once and
    put a `PublishFailed` on that queue for each question that could not be published (the waiter fails its attempt).
    """
    ensured: set = set()
    futures = []
    for question in questions:
        key = (question.project, question.topic_name, question.emulator_host)
        if key not in ensured:
            session.ensure_emulator_topic(*key)
            ensured.add(key)
        publisher = session.publisher(question.project, question.topic_name, question.emulator_host)
        future = publisher.publish(question.event, question.attributes)
        question.started()
        if failures is not None:
            future.add_done_callback(
                functools.partial(_report_failure, question, question.retry_count, failures, session)
            )
        futures.append(future)
    if failures is not None:
        return
    for question, future in zip(questions, futures, strict=True):
        try:
            future.result(timeout=PUBLISH_TIMEOUT)
        except Exception as error:  # noqa: BLE001
            raise _publish_error(question, error, session) from None


def resend(question: Question, failures: queue.Queue | None = None, *, session: AskingSession) -> None:
    """Send the current attempt of a question again (a retry)."""
    send_questions([question], session, failures)


def resender(session: AskingSession) -> Resend:
    """The `resend` function a `Waiter` retries questions of this session with."""
    return functools.partial(resend, session=session)


def _report_failure(
    question: Question, retry_count: int, failures: queue.Queue, session: AskingSession, future: Any
) -> None:
    try:
        error = future.exception()
    except BaseException as cancelled:  # noqa: BLE001
        error = cancelled
    if error is not None:
        failures.put(PublishFailed(question.question_uuid, retry_count, _publish_error(question, error, session)))


def _publish_error(question: Question, error: BaseException, session: AskingSession) -> BaseException:
    if isinstance(error, api_exceptions.NotFound):
        if question.emulator_host:  # a restarted emulator lost the topic: a retry makes it again
            session.topic_missing(question.project, question.topic_name, question.emulator_host)
        return ServiceNotFound(
            f"The services topic {pubsub.topic_path(question.project, question.topic_name)!r} does not exist, so "
            f"{question.service_id} cannot be asked. Check the project and TWINED_SERVICES_TOPIC_NAME."
        )
    return error
