"""Building a question: resolving whom to ask and where, checking the inputs, and the wire event and attributes.

Everything here happens before anything is sent, so a question that would be refused fails in the asker's call.
"""

import functools
import uuid as uuid_module
from typing import Any

from octue_beam import __version__, serialisation
from octue_beam.asking.questions import AskOptions, Question
from octue_beam.asking.registry import resolve_service_id
from octue_beam.context import current_monitor_forwarder
from octue_beam.environment import LOCAL_PROJECT, configured_project, pubsub_emulator_host
from octue_beam.exceptions import CloudLocationNotSpecified, FileLocationError, InvalidEvent
from octue_beam.messaging import events as event_builders
from octue_beam.messaging.attributes import decode_attributes, encode_attributes, question_attributes
from octue_beam.messaging.parsing import MAX_MESSAGE_BYTES, validate_event
from octue_beam.messaging.sruid import random_parent_sruid, split_service_id, validate_sruid
from octue_beam.resources import Manifest

_CLOUD_PREFIXES = ("gs://", "https://", "http://")
MAX_QUESTION_BYTES = MAX_MESSAGE_BYTES


@functools.cache
def default_parent_sruid() -> str:
    """This process's SRUID as a parent: `local/local-<short uuid>:local` (random, fixed per process)."""
    return random_parent_sruid()


def resolve_project(project: str | None = None) -> str:
    """The project to ask in: given, else GOOGLE_CLOUD_PROJECT (or GCLOUD_PROJECT, GCP_PROJECT), else
    `octue-beam-local` when the Pub/Sub emulator is in use."""
    project = configured_project(project)
    if project:
        return project
    if pubsub_emulator_host():
        return LOCAL_PROJECT
    raise CloudLocationNotSpecified(
        "No Google Cloud project to ask in: pass project=..., set GOOGLE_CLOUD_PROJECT, or set PUBSUB_EMULATOR_HOST "
        "to use a local Pub/Sub emulator."
    )


def build_question(
    service_id: str,
    input_values: Any,
    input_manifest: Any,
    options: AskOptions,
    resolved: dict | None = None,
) -> Question:
    """Check and build a question (nothing is sent), on the Pub/Sub emulator of the environment if any. Call it in
    the asking thread: the default monitor message handler is taken from its context. `resolved` caches service IDs
    resolved through registries (e.g. across the questions of one `ask_multiple`)."""
    service_id = _resolve(service_id, options.service_registries, resolved)
    parent_sruid = validate_sruid(options.parent_sruid) if options.parent_sruid else default_parent_sruid()
    project = resolve_project(options.project)
    question_uuid = options.question_uuid or str(uuid_module.uuid4())
    policy = options.retry_policy()

    manifest_primitive = _manifest_primitive(input_manifest, options.use_signed_urls)
    if manifest_primitive is not None and not options.allow_local_files:
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
        parent_question_uuid=options.parent_question_uuid,
        originator_question_uuid=options.originator_question_uuid,
        originator=options.originator,
        retry_count=options.retry_count,
        forward_logs=options.subscribe_to_logs,
        save_diagnostics=options.save_diagnostics,
        cpus=options.cpus,
        memory=options.memory,
        ephemeral_storage=options.ephemeral_storage,
    )
    event = event_builders.question(
        input_values=input_values, input_manifest=manifest_primitive, children=options.children
    )
    _check_question(event, attributes)
    return Question(
        service_id=service_id,
        project=project,
        topic_name=options.topic_name,
        parent_sruid=parent_sruid,
        event=event,
        attributes=attributes,
        timeout=options.timeout,
        maximum_heartbeat_interval=options.maximum_heartbeat_interval,
        delivery_acknowledgement_timeout=options.delivery_acknowledgement_timeout,
        emulator_host=pubsub_emulator_host(),
        handle_monitor_message=options.handle_monitor_message or current_monitor_forwarder(),
        record_events=options.record_events,
        policy=policy,
    )


def _resolve(service_id: str, registries: list[dict] | None, cache: dict | None) -> str:
    """The SRUID to ask: through the service registries when given or when `service_id` has no revision tag."""
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
            f if isinstance(f, str) else (f.get("cloud_path") or f.get("path") or "")
            for f in files
            if isinstance(f, (str, dict))
        ]
        local_files = [p for p in file_paths if not str(p).startswith(_CLOUD_PREFIXES)]
        if local_files or (path and not files):
            local.append(path or (local_files[0] if local_files else key))
    return local
