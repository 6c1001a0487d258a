"""`ask`: send a question to a service over Pub/Sub and wait for its answer.

Differences from Octue's `Child.ask` (on purpose):
- one answer subscription per asking process, shared by all its questions (Octue makes one per question);
- the heartbeat clock starts when the question is sent, and ANY event (not only heartbeats) proves the child is
  alive, so a slow start does not time out as long as the child acknowledged the question;
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
from typing import Any, Callable

from google.api_core import exceptions as api_exceptions

from octue_beam import __version__, serialisation
from octue_beam.asking.answers import ListenerFailed, get_listener
from octue_beam.asking.remote_errors import remote_exception
from octue_beam.exceptions import (
    CloudLocationNotSpecified,
    FileLocationError,
    InvalidEvent,
    InvalidServiceID,
    QuestionTimeout,
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
from octue_beam.messaging.parsing import validate_event

logger = logging.getLogger(__name__)

LOCAL_PROJECT = "octue-beam-local"
_PROJECT_VARIABLES = ("GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "GCP_PROJECT")
_CLOUD_PREFIXES = ("gs://", "https://", "http://")
MAX_QUESTION_BYTES = 10_000_000


@functools.cache
def default_parent_sruid() -> str:
    """This process's SRUID as a parent: `local/local-<short uuid>:local` (random, fixed per process)."""
    from octue_beam.service.sruid import random_parent_sruid

    return random_parent_sruid()


def resolve_project(project: str | None = None) -> str:
    """The project to ask in: given, else GOOGLE_CLOUD_PROJECT (or GCLOUD_PROJECT, GCP_PROJECT), else
    `octue-beam-local` when the Pub/Sub emulator is in use."""
    if project:
        return project
    for name in _PROJECT_VARIABLES:
        if os.environ.get(name):
            return os.environ[name]
    if os.environ.get("PUBSUB_EMULATOR_HOST"):
        return LOCAL_PROJECT
    raise CloudLocationNotSpecified(
        "No Google Cloud project to ask in: pass project=..., set GOOGLE_CLOUD_PROJECT, or set PUBSUB_EMULATOR_HOST "
        "to use a local Pub/Sub emulator."
    )


_publishers: dict[tuple[str, str, str], pubsub.EventPublisher] = {}
_publishers_lock = threading.Lock()


def _publisher(project: str, topic_name: str | None) -> pubsub.EventPublisher:
    key = (project, pubsub.topic_path(project, topic_name), os.environ.get("PUBSUB_EMULATOR_HOST", ""))
    with _publishers_lock:
        if key not in _publishers:
            _publishers[key] = pubsub.EventPublisher(project, topic_name)
        return _publishers[key]


def ask(
    service_id: str,
    input_values: Any = None,
    input_manifest: Any = None,
    *,
    children: list[dict] | None = None,
    timeout: float | None = 86400,
    maximum_heartbeat_interval: float | None = 360,
    asynchronous: bool = False,
    question_uuid: str | None = None,
    handle_monitor_message: Callable[[Any], None] | None = None,
    subscribe_to_logs: bool = True,
    save_diagnostics: str = SAVE_DIAGNOSTICS_ON_CRASH,
    retry_count: int = 0,
    parent_sruid: str | None = None,
    parent_question_uuid: str | None = None,
    originator_question_uuid: str | None = None,
    originator: str | None = None,
    project: str | None = None,
    record_events: list | None = None,
    allow_local_files: bool = False,
    cpus: int | None = None,
    memory: str | None = None,
    ephemeral_storage: str | None = None,
    topic_name: str | None = None,
) -> tuple[dict[str, Any] | None, str]:
    """Ask the service `service_id` (a full SRUID) a question; return `(answer, question_uuid)`.

    `answer` is `{"output_values": ..., "output_manifest": Manifest | None}`, or None when `asynchronous` (the
    question is only sent). Raises the child's exception (re-created by type name, message and remote traceback)
    if it failed, and QuestionTimeout if no answer arrives within `timeout` seconds or no event at all arrives for
    `maximum_heartbeat_interval` seconds. Forwarded logs are re-emitted through Python logging, prefixed with
    `[<child SRUID> | <question uuid>]`; monitor messages go to `handle_monitor_message(data)`; every event
    received is appended to `record_events` (a list) as `{"event": ..., "attributes": ...}`.
    """
    from octue_beam.service.sruid import split_service_id, validate_sruid

    _, _, revision_tag = split_service_id(service_id)
    if revision_tag is None:
        raise InvalidServiceID(
            f"{service_id!r} has no revision tag. Ask a full SRUID 'namespace/name:revision_tag' (service registries "
            "that resolve a default revision are not supported yet)."
        )
    parent_sruid = validate_sruid(parent_sruid) if parent_sruid else default_parent_sruid()
    project = resolve_project(project)
    question_uuid = question_uuid or str(uuid_module.uuid4())

    manifest_primitive = _manifest_primitive(input_manifest)
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

    if asynchronous:
        _send(project, topic_name, event, attributes, service_id)
        logger.info("Asked %s question %s (asynchronously).", service_id, question_uuid)
        return None, question_uuid

    listener = get_listener(project, parent_sruid, topic_name)
    events_queue = listener.register(question_uuid)  # before sending, so no answer is missed
    try:
        _send(project, topic_name, event, attributes, service_id)
        logger.info("Asked %s question %s.", service_id, question_uuid)
        answer = _wait(
            events_queue,
            service_id=service_id,
            question_uuid=question_uuid,
            timeout=timeout,
            maximum_heartbeat_interval=maximum_heartbeat_interval,
            handle_monitor_message=handle_monitor_message,
            record_events=record_events,
            project=project,
            retry_count=retry_count,
        )
    finally:
        listener.unregister(question_uuid)
    return answer, question_uuid


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


def _send(project: str, topic_name: str | None, event: dict, attributes: dict, service_id: str) -> None:
    if os.environ.get("PUBSUB_EMULATOR_HOST"):
        pubsub.ensure_topic(project, topic_name)
    try:
        _publisher(project, topic_name).publish(event, attributes, wait=True)
    except api_exceptions.NotFound:
        raise ServiceNotFound(
            f"The services topic {pubsub.topic_path(project, topic_name)!r} does not exist, so {service_id} cannot be "
            "asked. Check the project and TWINED_SERVICES_TOPIC_NAME."
        ) from None


def _wait(
    events_queue: queue.Queue,
    *,
    service_id: str,
    question_uuid: str,
    timeout: float | None,
    maximum_heartbeat_interval: float | None,
    handle_monitor_message: Callable[[Any], None] | None,
    record_events: list | None,
    project: str,
    retry_count: int = 0,
) -> dict[str, Any]:
    """Handle the question's events until `result` (returned) or `exception` (raised) or a timeout."""
    sent_at = time.monotonic()
    last_event_at = sent_at
    last_kind: str | None = None
    seen: set[str] = set()
    timeout = math.inf if timeout is None else timeout
    silence_limit = math.inf if maximum_heartbeat_interval is None else maximum_heartbeat_interval
    while True:
        now = time.monotonic()
        remaining = timeout - (now - sent_at)
        silence_remaining = silence_limit - (now - last_event_at)
        if remaining <= 0:
            raise QuestionTimeout(
                f"No answer to question {question_uuid} from {service_id} within the timeout of {timeout:g} s "
                f"(last event received: {last_kind or 'none'})."
            )
        if silence_remaining <= 0:
            since = "it was asked" if last_kind is None else f"its last event ({last_kind})"
            raise QuestionTimeout(
                f"{service_id} sent nothing about question {question_uuid} for {silence_limit:g} s since {since} "
                f"(maximum_heartbeat_interval). It may not be running in project {project!r}, or it crashed."
            )
        try:
            item = events_queue.get(timeout=min(remaining, silence_remaining, 3600))
        except queue.Empty:
            continue
        if isinstance(item, ListenerFailed):
            raise ConnectionError(
                f"Stopped receiving answers while waiting for question {question_uuid}: {item.error}"
            ) from item.error
        event, attributes, data = item
        event_uuid = attributes.get("uuid")
        if event_uuid in seen:
            continue
        if attributes.get("retry_count", 0) != retry_count:
            logger.debug("Ignored a late %r event of attempt %s of question %s.", event["kind"], attributes.get("retry_count"), question_uuid)
            continue
        seen.add(event_uuid)
        last_event_at = time.monotonic()
        kind = last_kind = event["kind"]
        if record_events is not None:
            record_events.append({"event": event, "attributes": attributes})
        if kind == "result":
            return _answer(data)
        if kind == "exception":
            raise remote_exception(event, attributes)
        if kind == "log_record":
            _emit_log_record(event["log_record"], attributes)
        elif kind == "monitor_message":
            if handle_monitor_message is not None:
                handle_monitor_message(event["data"])
        elif kind == "delivery_acknowledgement":
            logger.info("%s received question %s.", attributes["sender"], question_uuid)
        elif kind == "heartbeat":
            logger.debug("Heartbeat from %s for question %s.", attributes["sender"], question_uuid)
        else:
            logger.debug("Ignored a %r event for question %s.", kind, question_uuid)


def _answer(data: bytes) -> dict[str, Any]:
    """The answer of a `result` event, with tagged sets/datetimes decoded and the manifest deserialised."""
    result = serialisation.loads(data)
    return {
        "output_values": result.get("output_values"),
        "output_manifest": _deserialise_manifest(serialisation.loads(data, decode_types=False).get("output_manifest")),
    }


def _deserialise_manifest(primitive: Any) -> Any:
    if primitive is None:
        return None
    try:
        from octue_beam.resources import Manifest
    except ImportError:
        return primitive
    for name in ("deserialise", "from_primitive"):
        constructor = getattr(Manifest, name, None)
        if constructor is not None:
            return constructor(primitive)
    return primitive


def _emit_log_record(fields: dict, attributes: dict) -> None:
    """Re-emit a forwarded log record through Python logging, prefixed with its sender and question."""
    fields = dict(fields)
    fields["args"] = None
    fields["exc_info"] = None
    if not isinstance(fields.get("levelno"), int):
        fields["levelno"] = logging.getLevelName(str(fields.get("levelname", "INFO")))
        if not isinstance(fields["levelno"], int):
            fields["levelno"] = logging.INFO
    fields.setdefault("levelname", logging.getLevelName(fields["levelno"]))
    record = logging.makeLogRecord(fields)
    record.msg = f"[{attributes['sender']} | {attributes['question_uuid']}] {record.msg}"
    record.remote_sender = attributes["sender"]
    record.question_uuid = attributes["question_uuid"]
    target = logging.getLogger(record.name if isinstance(record.name, str) and record.name else __name__)
    if target.isEnabledFor(record.levelno):
        target.handle(record)


def _manifest_primitive(manifest: Any) -> dict | None:
    if manifest is None:
        return None
    if hasattr(manifest, "to_primitive"):
        return manifest.to_primitive()
    if isinstance(manifest, dict):
        return manifest
    raise TypeError(f"input_manifest must be a Manifest or its JSON primitive (a dict), not {type(manifest).__name__}.")


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
