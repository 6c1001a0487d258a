"""`ask`: send a question to a service over Pub/Sub and wait for its answer.

Differences from Octue's `Child.ask` (on purpose):
- one answer subscription per asking process, shared by all its questions (Octue makes one per question);
- a slow start is not timed out: until the child's delivery acknowledgement the question waits up to
  `delivery_acknowledgement_timeout`; `maximum_heartbeat_interval` applies from the acknowledgement on, and ANY
  event (not only heartbeats) proves the child is alive;
- retries apply whenever `max_retries > 0` (Octue retries only with `raise_errors=False`);
- the question is validated against the wire schema before it is sent;
- duplicate deliveries of an event are ignored (by event `uuid`).
"""

import logging
import queue
from collections.abc import Callable, Sequence
from typing import Any

from octue_beam.asking.delivery import DELIVERY_CHECK_SECONDS, undeliverable
from octue_beam.asking.preparing import build_question
from octue_beam.asking.questions import (
    DEFAULT_DELIVERY_ACKNOWLEDGEMENT_TIMEOUT,
    DEFAULT_MAXIMUM_HEARTBEAT_INTERVAL,
    DEFAULT_TIMEOUT,
    AskOptions,
    Question,
)
from octue_beam.asking.sending import register, resender, send_questions, unregister
from octue_beam.asking.session import TrackedQuestion, default_session
from octue_beam.asking.waiting import Waiter
from octue_beam.messaging.attributes import SAVE_DIAGNOSTICS_ON_CRASH

logger = logging.getLogger(__name__)


def ask(
    service_id: str,
    input_values: Any = None,
    input_manifest: Any = None,
    *,
    children: list[dict] | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    maximum_heartbeat_interval: float | None = DEFAULT_MAXIMUM_HEARTBEAT_INTERVAL,
    delivery_acknowledgement_timeout: float | None = DEFAULT_DELIVERY_ACKNOWLEDGEMENT_TIMEOUT,
    asynchronous: bool = False,
    question_uuid: str | None = None,
    handle_monitor_message: Callable[[Any], None] | None = None,
    subscribe_to_logs: bool = True,
    save_diagnostics: str = SAVE_DIAGNOSTICS_ON_CRASH,
    max_retries: int = 0,
    prevent_retries_when: Sequence[type[BaseException]] | None = None,
    raise_errors: bool = True,
    log_errors: bool = True,
    retry_count: int = 0,
    parent_sruid: str | None = None,
    parent_question_uuid: str | None = None,
    originator_question_uuid: str | None = None,
    originator: str | None = None,
    project: str | None = None,
    service_registries: list[dict] | None = None,
    record_events: list | None = None,
    allow_local_files: bool = False,
    use_signed_urls: bool = False,
    cpus: int | None = None,
    memory: str | None = None,
    ephemeral_storage: str | None = None,
    topic_name: str | None = None,
) -> tuple[Any, str]:
    """Ask the service `service_id` a question; return `(answer, question_uuid)`.

    `answer` is `{"output_values": ..., "output_manifest": Manifest | None}`; None when `asynchronous` (the question
    is sent and its events are buffered: read them with `octue_beam.asking.get_answer` / `get_events`).

    A failed attempt (the child's exception, re-created by type name, message and remote traceback, or a
    QuestionTimeout) is retried up to `max_retries` times with the same question UUID and `retry_count` + 1, unless
    it is an instance of a type in `prevent_retries_when`. The final error is raised, or returned in place of the
    answer when `raise_errors` is False (and logged when `log_errors`).

    Timeouts: `timeout` bounds each attempt (default 4,200 s: a service's default time limit per question, 3,600 s,
    plus a margin, so a stuck question's time-limit exception arrives first); until the child's first event (its
    delivery acknowledgement) the attempt may wait `delivery_acknowledgement_timeout` seconds, after it
    `maximum_heartbeat_interval` seconds of silence fail it. Forwarded logs are re-emitted through Python logging in
    the calling thread, prefixed with `[<child SRUID> | <question uuid>]`; monitor messages go to
    `handle_monitor_message(data)` (by default, inside an app, to the app's own parent). Every event received is
    appended to `record_events` (a list) as `{"event": ..., "attributes": ...}`. A service ID without a revision tag
    is resolved through `service_registries`; with `use_signed_urls`, cloud datasets of the input manifest are sent
    as signed URLs.
    """
    return ask_with_options(service_id, input_values, input_manifest, AskOptions.from_arguments(locals()))


def ask_with_options(service_id: str, input_values: Any, input_manifest: Any, options: AskOptions) -> tuple[Any, str]:
    """`ask`, with its keyword options as one `AskOptions`, in the process's asking session."""
    session = default_session()
    question = build_question(service_id, input_values, input_manifest, options)
    events_queue: queue.Queue = queue.Queue()
    listeners = register([question], events_queue, session)
    try:
        send_questions([question], session)
    except BaseException:
        unregister([question], listeners)
        raise
    waiter = Waiter(events_queue, resender(session), undeliverable, DELIVERY_CHECK_SECONDS)
    waiter.add(question)
    if options.asynchronous:
        session.track(TrackedQuestion(question, waiter, listeners[question.question_uuid]))
        logger.info("Asked %s question %s (asynchronously).", question.service_id, question.question_uuid)
        return None, question.question_uuid
    logger.info("Asked %s question %s.", question.service_id, question.question_uuid)
    try:
        waiter.wait()
    finally:
        unregister([question], listeners)
    return question.outcome()


def prepare_question(
    service_id: str,
    input_values: Any = None,
    input_manifest: Any = None,
    *,
    children: list[dict] | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    maximum_heartbeat_interval: float | None = DEFAULT_MAXIMUM_HEARTBEAT_INTERVAL,
    delivery_acknowledgement_timeout: float | None = DEFAULT_DELIVERY_ACKNOWLEDGEMENT_TIMEOUT,
    question_uuid: str | None = None,
    handle_monitor_message: Callable[[Any], None] | None = None,
    subscribe_to_logs: bool = True,
    save_diagnostics: str = SAVE_DIAGNOSTICS_ON_CRASH,
    max_retries: int = 0,
    prevent_retries_when: Sequence[type[BaseException]] | None = None,
    raise_errors: bool = True,
    log_errors: bool = True,
    retry_count: int = 0,
    parent_sruid: str | None = None,
    parent_question_uuid: str | None = None,
    originator_question_uuid: str | None = None,
    originator: str | None = None,
    project: str | None = None,
    service_registries: list[dict] | None = None,
    record_events: list | None = None,
    allow_local_files: bool = False,
    use_signed_urls: bool = False,
    cpus: int | None = None,
    memory: str | None = None,
    ephemeral_storage: str | None = None,
    topic_name: str | None = None,
    _resolved: dict | None = None,
) -> Question:
    """Check and build a question (nothing is sent). Call it in the asking thread: the default monitor message
    handler is taken from its context."""
    return build_question(service_id, input_values, input_manifest, AskOptions.from_arguments(locals()), _resolved)
