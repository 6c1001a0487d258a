"""The services topic and its subscriptions on Google Pub/Sub: names, filters, and creating them (docs/protocol.md).

All events of a service network go to one topic. A serving child reads a subscription named after the Pub/Sub
form of its SRUID; a parent reads answers from a subscription filtered on its own SRUID. Subscriptions are made
with message ordering on and a 600 s ack deadline, like Octue's.

The Pub/Sub emulator accepts filters but does not apply them: readers must check attributes themselves.
Publishing is in `octue_beam.messaging.publishing`; the clients used here are `clients.default_clients()`. Every
admin call here takes at most `ADMIN_REQUEST_TIMEOUT` seconds per attempt and retries `TRANSIENT_ERRORS`
(DEADLINE_EXCEEDED, UNAVAILABLE...) with backoff for at most `ADMIN_RETRY_SECONDS` (`clients.admin_retry`), so a
slow or restarting emulator delays them instead of failing them; a missing or existing resource is not retried.
"""

import logging
import os
from typing import Any

from google.api_core import exceptions as api_exceptions
from google.cloud import pubsub_v1
from google.protobuf import duration_pb2

from octue_beam.messaging.attributes import CHILD, PARENT
from octue_beam.messaging.clients import ADMIN_REQUEST_TIMEOUT, admin_retry, default_clients, resolve_emulator_host
from octue_beam.messaging.sruid import to_pub_sub_form

logger = logging.getLogger(__name__)

DEFAULT_SERVICES_TOPIC_NAME = "main.octue.twined.services"
ACK_DEADLINE_SECONDS = 600
ANSWERS_NAMESPACE = "answers"


# --- names ----------------------------------------------------------------------------------------


def services_topic_name() -> str:
    """Name of the services topic: env TWINED_SERVICES_TOPIC_NAME, default `main.octue.twined.services`."""
    return os.environ.get("TWINED_SERVICES_TOPIC_NAME") or DEFAULT_SERVICES_TOPIC_NAME


def topic_path(project: str, name: str | None = None) -> str:
    """`projects/<project>/topics/<name>` (name defaults to the services topic)."""
    return f"projects/{project}/topics/{name or services_topic_name()}"


def _parse_resource(value: str | None, default_project: str, kind: str) -> tuple[str, str | None]:
    if value and value.startswith("projects/"):
        parts = value.split("/")
        if len(parts) != 4 or parts[2] != kind or not parts[1] or not parts[3]:
            raise ValueError(f"{value!r} is not a valid {kind[:-1]} path: expected 'projects/<project>/{kind}/<name>'.")
        return parts[1], parts[3]
    return default_project, value or None


def parse_topic(topic: str | None, default_project: str) -> tuple[str, str]:
    """`(project, name)` of a topic given as a name or as `projects/<p>/topics/<name>`; no name means the services
    topic (`services_topic_name()`) in `default_project`."""
    project, name = _parse_resource(topic, default_project, "topics")
    return project, name or services_topic_name()


def parse_subscription(subscription: str | None, default_project: str) -> tuple[str, str | None]:
    """`(project, name)` of a subscription given as a name or as `projects/<p>/subscriptions/<name>`; the name is
    None when none is given (the caller picks its default)."""
    return _parse_resource(subscription, default_project, "subscriptions")


def subscription_path(project: str, name: str) -> str:
    """`projects/<project>/subscriptions/<name>`; a full path is returned unchanged."""
    if name.startswith("projects/"):
        return name
    return f"projects/{project}/subscriptions/{name}"


def service_subscription_name(sruid: str) -> str:
    """Name of the subscription a serving child reads: the Pub/Sub form of its SRUID."""
    return to_pub_sub_form(sruid)


def answer_subscription_name(parent_sruid: str, suffix: str) -> str:
    """`<pub-sub form of parent SRUID>.answers.<suffix>` (Octue uses the question UUID as suffix)."""
    return f"{to_pub_sub_form(parent_sruid)}.{ANSWERS_NAMESPACE}.{suffix}"


def service_subscription_filter(sruid: str) -> str:
    """Filter of a serving child's subscription, exactly as Octue writes it."""
    return f'attributes.recipient = "{sruid}" AND attributes.sender_type = "{PARENT}"'


def answer_subscription_filter(parent_sruid: str, question_uuid: str | None = None) -> str:
    """Filter of a parent's answer subscription; with `question_uuid` exactly as Octue writes it."""
    if question_uuid is None:
        return f'attributes.recipient = "{parent_sruid}" AND attributes.sender_type = "{CHILD}"'
    return (
        f'attributes.recipient = "{parent_sruid}" AND attributes.question_uuid = "{question_uuid}" '
        f'AND attributes.sender_type = "{CHILD}"'
    )


# --- clients --------------------------------------------------------------------------------------


def publisher_client(emulator_host: str | None = None) -> pubsub_v1.PublisherClient:
    """The process's shared PublisherClient for admin calls (topics); see `clients` for `emulator_host`."""
    return default_clients().publisher(emulator_host)


def subscriber_client(emulator_host: str | None = None) -> pubsub_v1.SubscriberClient:
    """The process's shared SubscriberClient for admin calls and pulls; see `clients` for `emulator_host`."""
    return default_clients().subscriber(emulator_host)


# --- topics and subscriptions ---------------------------------------------------------------------
# Each takes `emulator_host` (None: as PUBSUB_EMULATOR_HOST says now, "": the real Pub/Sub; see `clients`).


def _admin() -> dict[str, Any]:
    """The `retry` and `timeout` of an admin call (see the module docstring)."""
    return {"retry": admin_retry(), "timeout": ADMIN_REQUEST_TIMEOUT}



def ensure_topic(project: str, name: str | None = None, *, emulator_host: str | None = None) -> str:
    """Create the topic if it does not exist; return its path."""
    path = topic_path(project, name)
    try:
        publisher_client(emulator_host).create_topic(name=path, **_admin())
        logger.debug("Created topic %r.", path)
    except api_exceptions.AlreadyExists:
        pass
    return path


def topic_exists(project: str, name: str | None = None, *, emulator_host: str | None = None) -> bool:
    """Whether the topic exists."""
    try:
        publisher_client(emulator_host).get_topic(topic=topic_path(project, name), **_admin())
        return True
    except api_exceptions.NotFound:
        return False


def delete_topic(project: str, name: str | None = None, *, emulator_host: str | None = None) -> None:
    """Delete the topic; a missing one is fine."""
    try:
        publisher_client(emulator_host).delete_topic(topic=topic_path(project, name), **_admin())
    except api_exceptions.NotFound:
        pass


def ensure_subscription(
    project: str,
    subscription_name: str,
    topic_name: str | None = None,
    filter: str | None = None,
    *,
    ack_deadline_seconds: int = ACK_DEADLINE_SECONDS,
    enable_message_ordering: bool = True,
    message_retention_seconds: int | None = None,
    expiration_ttl_seconds: int | None = None,
    push_endpoint: str | None = None,
    create_topic: bool = True,
    topic_project: str | None = None,
    emulator_host: str | None = None,
) -> str:
    """Create the subscription on the topic if it does not exist (idempotent); return its path.

    `expiration_ttl_seconds` (>= 86400) makes Pub/Sub delete the subscription after that long without readers,
    a safety net for answer subscriptions of processes that died without cleaning up. `topic_project` is the
    topic's project when it differs from the subscription's (`project`). A subscription of that name reading
    another topic is replaced on an emulator (scratch space) and refused with a ValueError on Pub/Sub.
    """
    host = resolve_emulator_host(emulator_host)
    topic_project = topic_project or project
    if create_topic:
        ensure_topic(topic_project, topic_name, emulator_host=host)
    path = subscription_path(project, subscription_name)
    request: dict[str, Any] = {
        "name": path,
        "topic": topic_path(topic_project, topic_name),
        "ack_deadline_seconds": ack_deadline_seconds,
        "enable_message_ordering": enable_message_ordering,
    }
    if filter:
        request["filter"] = filter
    if message_retention_seconds is not None:
        request["message_retention_duration"] = duration_pb2.Duration(seconds=message_retention_seconds)
    if expiration_ttl_seconds is not None:
        request["expiration_policy"] = pubsub_v1.types.ExpirationPolicy(
            ttl=duration_pb2.Duration(seconds=expiration_ttl_seconds)
        )
    if push_endpoint:
        request["push_config"] = pubsub_v1.types.PushConfig(push_endpoint=push_endpoint)
    client = subscriber_client(host)
    try:
        client.create_subscription(request=request, **_admin())
        logger.debug("Created subscription %r (filter %r).", path, filter)
        return path
    except api_exceptions.AlreadyExists:
        pass
    existing = client.get_subscription(request={"subscription": path}, **_admin())
    if existing.topic == request["topic"]:
        return path
    if not host:
        raise ValueError(
            f"The subscription {path!r} already exists but reads the topic {existing.topic!r}, not "
            f"{request['topic']!r}: delete it, or choose another subscription name."
        )
    logger.warning(
        "Replacing the emulator subscription %r, which read %r, with one on %r.", path, existing.topic, request["topic"]
    )
    client.delete_subscription(request={"subscription": path}, **_admin())
    client.create_subscription(request=request, **_admin())
    return path


def subscription_exists(project: str, subscription_name: str, *, emulator_host: str | None = None) -> bool:
    """Whether the subscription exists."""
    try:
        subscriber_client(emulator_host).get_subscription(
            subscription=subscription_path(project, subscription_name), **_admin()
        )
        return True
    except api_exceptions.NotFound:
        return False


def delete_subscription(
    project: str, subscription_name: str, *, emulator_host: str | None = None, timeout: float | None = None
) -> None:
    """Delete the subscription; a missing one is fine. With `timeout`, make one attempt of at most that long."""
    kwargs: dict[str, Any] = _admin() if timeout is None else {"timeout": timeout, "retry": None}
    try:
        subscriber_client(emulator_host).delete_subscription(
            subscription=subscription_path(project, subscription_name), **kwargs
        )
        logger.debug("Deleted subscription %r.", subscription_name)
    except api_exceptions.NotFound:
        pass


def ensure_service_resources(
    topic: str,
    subscription: str,
    sruid: str,
    dead_letter_topic: str | None = None,
    *,
    emulator_host: str | None = None,
    ack_deadline_seconds: int = ACK_DEADLINE_SECONDS,
) -> None:
    """Create what a serving revision reads and writes, if missing: the services `topic`, this revision's
    `subscription` on it (filtered on `sruid`, also when the subscription's project is not the topic's, with
    `ack_deadline_seconds` when it is created) and the `dead_letter_topic`. Every argument is a full path
    (`projects/<p>/topics/<t>`, `projects/<p>/subscriptions/<s>`).
    """
    if not topic.startswith("projects/") or not subscription.startswith("projects/"):
        raise ValueError(f"Full paths are needed, got topic {topic!r} and subscription {subscription!r}.")
    host = resolve_emulator_host(emulator_host)
    topic_project, topic_name = parse_topic(topic, "")
    subscription_project, subscription_name = parse_subscription(subscription, "")
    ensure_topic(topic_project, topic_name, emulator_host=host)
    if topic_project == subscription_project:
        ensure_subscription(
            subscription_project,
            subscription_name,
            topic_name=topic_name,
            filter=service_subscription_filter(sruid),
            ack_deadline_seconds=ack_deadline_seconds,
            create_topic=False,
            emulator_host=host,
        )
    else:
        # Across projects: create it, or keep the one there (its topic cannot be read back without rights on both).
        try:
            subscriber_client(host).create_subscription(
                request={
                    "name": subscription,
                    "topic": topic,
                    "filter": service_subscription_filter(sruid),
                    "ack_deadline_seconds": ack_deadline_seconds,
                    "enable_message_ordering": True,
                },
                **_admin(),
            )
        except api_exceptions.AlreadyExists:
            pass
    if dead_letter_topic:
        ensure_topic(*parse_topic(dead_letter_topic, topic_project), emulator_host=host)
