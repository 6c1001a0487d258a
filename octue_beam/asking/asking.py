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

import functools
import logging
import math
import os
import queue
import threading
import time
import uuid as uuid_module
from typing import Any, Callable, Iterable, Sequence

from google.api_core import exceptions as api_exceptions

from octue_beam import __version__, serialisation
from octue_beam.asking.answers import AnswerListener, get_listener
from octue_beam.asking.questions import Question, RetryPolicy
from octue_beam.asking.waiting import PublishFailed, Waiter
from octue_beam.environment import LOCAL_PROJECT, configured_project
from octue_beam.exceptions import (
    CloudLocationNotSpecified,
    FileLocationError,
    InvalidEvent,
    ServiceNotFound,
)
from octue_beam.messaging import events as event_builders
from octue_beam.messaging import pubsub
from octue_beam.messaging.attributes import (
    SAVE_DIAGNOSTICS_ON_CRASH,
    decode_attributes,
    encode_attributes,
    question_attributes,
)
from octue_beam.messaging.parsing import MAX_MESSAGE_BYTES, validate_event

logger = logging.getLogger(__name__)

_CLOUD_PREFIXES = ("gs://", "https://", "http://")
MAX_QUESTION_BYTES = MAX_MESSAGE_BYTES


@functools.cache
def default_parent_sruid() -> str:
    """This process's SRUID as a parent: `local/local-<short uuid>:local` (random, fixed per process)."""
    from octue_beam.service.sruid import random_parent_sruid

    return random_parent_sruid()


def resolve_project(project: str | None = None) -> str:
    """The project to ask in: given, else GOOGLE_CLOUD_PROJECT (or GCLOUD_PROJECT, GCP_PROJECT), else
    `octue-beam-local` when the Pub/Sub emulator is in use."""
    project = configured_project(project)
    if project:
        return project
    if os.environ.get("PUBSUB_EMULATOR_HOST"):
        return LOCAL_PROJECT
    raise CloudLocationNotSpecified(
        "No Google Cloud project to ask in: pass project=..., set GOOGLE_CLOUD_PROJECT, or set PUBSUB_EMULATOR_HOST "
        "to use a local Pub/Sub emulator."
    )


class QuestionPublisher:
    """Publishes questions, batched and without an ordering key (a question is one message, so ordering does not
    apply; ordering keys would cost one publish request per question when many are asked at once)."""

    def __init__(self, project: str, topic_name: str | None) -> None:
        from google.cloud import pubsub_v1

        self.topic = pubsub.topic_path(project, topic_name)
        self._client = pubsub_v1.PublisherClient(
            batch_settings=pubsub_v1.types.BatchSettings(max_bytes=10_000_000, max_latency=0.005, max_messages=100)
        )

    def publish(self, event: dict, attributes: dict) -> Any:
        """Publish with a new event `uuid` and `datetime`; return the publish future."""
        data, wire_attributes = pubsub.wire_message(event, attributes)
        return self._client.publish(self.topic, data, **wire_attributes)


_publishers: dict[tuple[str, str, str], QuestionPublisher] = {}
_publishers_lock = threading.Lock()


def _publisher(project: str, topic_name: str | None) -> QuestionPublisher:
    key = (project, pubsub.topic_path(project, topic_name), os.environ.get("PUBSUB_EMULATOR_HOST", ""))
    with _publishers_lock:
        if key not in _publishers:
            _publishers[key] = QuestionPublisher(project, topic_name)
        return _publishers[key]


DEFAULT_DELIVERY_ACKNOWLEDGEMENT_TIMEOUT = 3600
DEFAULT_MAXIMUM_HEARTBEAT_INTERVAL = 360


def ask(
    service_id: str,
    input_values: Any = None,
    input_manifest: Any = None,
    *,
    children: list[dict] | None = None,
    timeout: float | None = 86400,
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

    Timeouts: `timeout` bounds each attempt; until the child's first event (its delivery acknowledgement) the
    attempt may wait `delivery_acknowledgement_timeout` seconds, after it `maximum_heartbeat_interval` seconds of
    silence fail it. Forwarded logs are re-emitted through Python logging in the calling thread, prefixed with
    `[<child SRUID> | <question uuid>]`; monitor messages go to `handle_monitor_message(data)` (by default, inside
    an app, to the app's own parent). Every event received is appended to `record_events` (a list) as
    `{"event": ..., "attributes": ...}`. A service ID without a revision tag is resolved through
    `service_registries`; with `use_signed_urls`, cloud datasets of the input manifest are sent as signed URLs.
    """
    question = prepare_question(
        service_id, input_values, input_manifest, children=children, timeout=timeout,
        maximum_heartbeat_interval=maximum_heartbeat_interval,
        delivery_acknowledgement_timeout=delivery_acknowledgement_timeout, question_uuid=question_uuid,
        handle_monitor_message=handle_monitor_message, subscribe_to_logs=subscribe_to_logs,
        save_diagnostics=save_diagnostics, max_retries=max_retries, prevent_retries_when=prevent_retries_when,
        raise_errors=raise_errors, log_errors=log_errors, retry_count=retry_count, parent_sruid=parent_sruid,
        parent_question_uuid=parent_question_uuid, originator_question_uuid=originator_question_uuid,
        originator=originator, project=project, service_registries=service_registries, record_events=record_events,
        allow_local_files=allow_local_files, use_signed_urls=use_signed_urls, cpus=cpus, memory=memory,
        ephemeral_storage=ephemeral_storage, topic_name=topic_name,
    )
    events_queue: queue.Queue = queue.Queue()
    listeners = register([question], events_queue)
    try:
        send_questions([question])
    except BaseException:
        unregister([question], listeners)
        raise
    if asynchronous:
        from octue_beam.asking.asynchronous import track

        track(question, events_queue, listeners[question.question_uuid])
        logger.info("Asked %s question %s (asynchronously).", question.service_id, question.question_uuid)
        return None, question.question_uuid
    logger.info("Asked %s question %s.", question.service_id, question.question_uuid)
    waiter = Waiter(events_queue, resend)
    waiter.add(question)
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
    timeout: float | None = 86400,
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
    from octue_beam.service.context import current_monitor_forwarder
    from octue_beam.service.sruid import validate_sruid

    service_id = _resolve(service_id, service_registries, _resolved)
    parent_sruid = validate_sruid(parent_sruid) if parent_sruid else default_parent_sruid()
    project = resolve_project(project)
    question_uuid = question_uuid or str(uuid_module.uuid4())
    policy = RetryPolicy(max_retries, tuple(prevent_retries_when or ()), raise_errors, log_errors)

    manifest_primitive = _manifest_primitive(input_manifest, use_signed_urls)
    if manifest_primitive is not None and not allow_local_files:
        local_paths = _local_paths(manifest_primitive)
        if local_paths:
            raise FileLocationError(
                f"The input manifest refers to local files or datasets ({', '.join(map(repr, local_paths[:5]))}) "
                f"that {service_id} cannot read. Upload them to Cloud Storage first, or pass allow_local_files=True "
                "if the service runs on this machine."
            )

    attributes = question_attributes(
        sender=parent_sruid,
        recipient=service_id,
        sender_sdk_version=__version__,
        question_uuid=question_uuid,
        parent_question_uuid=parent_question_uuid,
        originator_question_uuid=originator_question_uuid,
        originator=originator,
        retry_count=retry_count,
        forward_logs=subscribe_to_logs,
        save_diagnostics=save_diagnostics,
        cpus=cpus,
        memory=memory,
        ephemeral_storage=ephemeral_storage,
    )
    event = event_builders.question(input_values=input_values, input_manifest=manifest_primitive, children=children)
    _check_question(event, attributes)
    return Question(
        service_id=service_id,
        project=project,
        topic_name=topic_name,
        parent_sruid=parent_sruid,
        event=event,
        attributes=attributes,
        timeout=timeout,
        maximum_heartbeat_interval=maximum_heartbeat_interval,
        delivery_acknowledgement_timeout=delivery_acknowledgement_timeout,
        handle_monitor_message=handle_monitor_message or current_monitor_forwarder(),
        record_events=record_events,
        policy=policy,
    )


def _resolve(service_id: str, registries: list[dict] | None, cache: dict | None) -> str:
    """The SRUID to ask: through the service registries when given or when `service_id` has no revision tag."""
    from octue_beam.service.registry import resolve_service_id
    from octue_beam.service.sruid import split_service_id

    _, _, revision_tag = split_service_id(service_id)
    if revision_tag is not None and not registries:
        return service_id
    key = (service_id, repr(registries))
    if cache is not None and key in cache:
        return cache[key]
    resolved = resolve_service_id(service_id, registries)
    if cache is not None:
        cache[key] = resolved
    return resolved


def register(questions: Iterable[Question], events_queue: queue.Queue) -> dict[str, AnswerListener]:
    """Register the questions with their process-wide answer listeners (before sending, so nothing is missed)."""
    listeners: dict[str, AnswerListener] = {}
    try:
        for question in questions:
            listener = get_listener(question.project, question.parent_sruid, question.topic_name)
            listener.register(question.question_uuid, events_queue)
            listeners[question.question_uuid] = listener
    except BaseException:
        unregister(questions, listeners)
        raise
    return listeners


def unregister(questions: Iterable[Question], listeners: dict[str, AnswerListener]) -> None:
    for question in questions:
        listener = listeners.get(question.question_uuid)
        if listener is not None:
            listener.unregister(question.question_uuid)


def send_questions(questions: Sequence[Question], failures: queue.Queue | None = None) -> None:
    """Publish the questions (all at once) and start their watchdogs.

    Without `failures`, wait until Pub/Sub accepted each one (raising the first error). With it, return at once and
    put a `PublishFailed` on that queue for each question that could not be published (the waiter fails its attempt).
    """
    ensured: set = set()
    futures = []
    for question in questions:
        key = (question.project, question.topic_name)
        if key not in ensured and os.environ.get("PUBSUB_EMULATOR_HOST"):
            _ensure_topic(question.project, question.topic_name)
            ensured.add(key)
        future = _publisher(question.project, question.topic_name).publish(question.event, question.attributes)
        question.started()
        if failures is not None:
            future.add_done_callback(functools.partial(_report_failure, question, question.retry_count, failures))
        futures.append(future)
    if failures is not None:
        return
    for question, future in zip(questions, futures):
        try:
            future.result(timeout=60)
        except Exception as error:  # noqa: BLE001
            raise _publish_error(question, error) from None


def _report_failure(question: Question, retry_count: int, failures: queue.Queue, future: Any) -> None:
    try:
        error = future.exception()
    except BaseException as cancelled:  # noqa: BLE001
        error = cancelled
    if error is not None:
        failures.put(PublishFailed(question.question_uuid, retry_count, _publish_error(question, error)))


def _publish_error(question: Question, error: BaseException) -> BaseException:
    if isinstance(error, api_exceptions.NotFound):
        return ServiceNotFound(
            f"The services topic {pubsub.topic_path(question.project, question.topic_name)!r} does not exist, so "
            f"{question.service_id} cannot be asked. Check the project and TWINED_SERVICES_TOPIC_NAME."
        )
    return error


_topics_ensured: dict[tuple, float] = {}


def _ensure_topic(project: str, topic_name: str | None) -> None:
    """Create the services topic on an emulator (at most every 10 s per topic and emulator: an emulator may have
    been restarted meanwhile)."""
    key = (project, topic_name, os.environ.get("PUBSUB_EMULATOR_HOST", ""))
    now = time.monotonic()
    if now - _topics_ensured.get(key, -math.inf) < 10:
        return
    pubsub.ensure_topic(project, topic_name)
    _topics_ensured[key] = now


def resend(question: Question, failures: queue.Queue | None = None) -> None:
    """Send the current attempt of a question again (a retry)."""
    send_questions([question], failures)


def _check_question(event: dict, attributes: dict) -> None:
    """Validate the question against the wire schema before sending it (so the child will accept it)."""
    try:
        data = serialisation.dumps(event)
    except (TypeError, ValueError) as error:
        raise InvalidEvent(f"The question's inputs cannot be encoded as JSON: {error}") from None
    size = len(data.encode())
    if size > MAX_QUESTION_BYTES:
        raise InvalidEvent(
            f"The question is {size} bytes, more than Pub/Sub's limit of {MAX_QUESTION_BYTES} bytes per message. "
            "Put large inputs in files and send them as an input manifest."
        )
    wire_event = serialisation.loads(data, decode_types=False)
    try:
        validate_event(wire_event, decode_attributes(encode_attributes(attributes)))
    except InvalidEvent as error:
        raise InvalidEvent(f"The question would be invalid on the wire: {error}") from None


def _manifest_primitive(manifest: Any, use_signed_urls: bool = False) -> dict | None:
    """The manifest's JSON primitive; with `use_signed_urls`, its cloud datasets replaced by signed URLs (on a copy)."""
    if manifest is None:
        return None
    if not (hasattr(manifest, "to_primitive") or isinstance(manifest, dict)):
        raise TypeError(
            f"input_manifest must be a Manifest or its JSON primitive (a dict), not {type(manifest).__name__}."
        )
    if use_signed_urls:
        from octue_beam.resources import Manifest

        primitive = manifest.to_primitive() if hasattr(manifest, "to_primitive") else manifest
        manifest = Manifest.deserialise(primitive)
        manifest.use_signed_urls_for_datasets()
    return manifest.to_primitive() if hasattr(manifest, "to_primitive") else manifest


def _local_paths(manifest: dict) -> list[str]:
    """Dataset and file paths of a manifest primitive that are not in the cloud."""
    local = []
    datasets = manifest.get("datasets") or {}
    for key, dataset in datasets.items():
        if isinstance(dataset, str):
            if not dataset.startswith(_CLOUD_PREFIXES):
                local.append(dataset)
            continue
        if not isinstance(dataset, dict):
            continue
        path = dataset.get("path")
        if isinstance(path, str) and path.startswith(_CLOUD_PREFIXES):
            continue
        files = dataset.get("files") or []
        file_paths = [
            f if isinstance(f, str) else (f.get("cloud_path") or f.get("path") or "") for f in files if isinstance(f, (str, dict))
        ]
        local_files = [p for p in file_paths if not str(p).startswith(_CLOUD_PREFIXES)]
        if local_files or (path and not files):
            local.append(path or (local_files[0] if local_files else key))
    return local
