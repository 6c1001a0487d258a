"""The services topic, subscriptions and publishing events on Google Pub/Sub (see docs/protocol.md).

All events of a service network go to one topic. A serving child reads a subscription named after the Pub/Sub
form of its SRUID; a parent reads answers from a subscription filtered on its own SRUID. Subscriptions are made
with message ordering on and a 600 s ack deadline, like Octue's.

The Pub/Sub emulator accepts filters but does not apply them: readers must check attributes themselves.
"""

import logging
import os
import threading
from concurrent import futures
from typing import Any, Mapping

from google.api_core import exceptions as api_exceptions

from octue_beam import serialisation
from octue_beam.messaging.attributes import CHILD, PARENT, encode_attributes, refreshed
from octue_beam.service.sruid import to_pub_sub_form

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

_clients: dict[tuple[str, str], Any] = {}
_clients_lock = threading.Lock()


def _client(kind: str, emulator_host: str | None = None) -> Any:
    """One admin client per kind and per emulator host (tests may switch emulators).

    `emulator_host` picks the client of a given emulator even when PUBSUB_EMULATOR_HOST has changed since
    (e.g. cleaning up at exit); "" means the real service.
    """
    from google.cloud import pubsub_v1

    host = os.environ.get("PUBSUB_EMULATOR_HOST", "") if emulator_host is None else emulator_host
    key = (kind, host)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            saved = os.environ.get("PUBSUB_EMULATOR_HOST")
            try:
                if host:
                    os.environ["PUBSUB_EMULATOR_HOST"] = host
                else:
                    os.environ.pop("PUBSUB_EMULATOR_HOST", None)
                client = pubsub_v1.PublisherClient() if kind == "publisher" else pubsub_v1.SubscriberClient()
            finally:
                if saved is None:
                    os.environ.pop("PUBSUB_EMULATOR_HOST", None)
                else:
                    os.environ["PUBSUB_EMULATOR_HOST"] = saved
            _clients[key] = client
        return client


def publisher_client(emulator_host: str | None = None) -> Any:
    """A shared PublisherClient for admin calls (topics); see `_client` for `emulator_host`."""
    return _client("publisher", emulator_host)


def subscriber_client(emulator_host: str | None = None) -> Any:
    """A shared SubscriberClient for admin calls and pulls; see `_client` for `emulator_host`."""
    return _client("subscriber", emulator_host)


# --- topics and subscriptions ---------------------------------------------------------------------


def ensure_topic(project: str, name: str | None = None) -> str:
    """Create the topic if it does not exist; return its path."""
    path = topic_path(project, name)
    try:
        publisher_client().create_topic(name=path)
        logger.debug("Created topic %r.", path)
    except api_exceptions.AlreadyExists:
        pass
    return path


def topic_exists(project: str, name: str | None = None) -> bool:
    try:
        publisher_client().get_topic(topic=topic_path(project, name))
        return True
    except api_exceptions.NotFound:
        return False


def delete_topic(project: str, name: str | None = None) -> None:
    try:
        publisher_client().delete_topic(topic=topic_path(project, name))
    except api_exceptions.NotFound:
        pass


def ensure_subscription(
    project: str,
    subscription_name: str,
    topic_name: str | None = None,
    filter: str | None = None,  # noqa: A002 - the Pub/Sub field's name
    *,
    ack_deadline_seconds: int = ACK_DEADLINE_SECONDS,
    enable_message_ordering: bool = True,
    message_retention_seconds: int | None = None,
    expiration_ttl_seconds: int | None = None,
    push_endpoint: str | None = None,
    create_topic: bool = True,
    topic_project: str | None = None,
) -> str:
    """Create the subscription on the topic if it does not exist (idempotent); return its path.

    `expiration_ttl_seconds` (>= 86400) makes Pub/Sub delete the subscription after that long without readers,
    a safety net for answer subscriptions of processes that died without cleaning up. `topic_project` is the
    topic's project when it differs from the subscription's (`project`).
    """
    from google.cloud import pubsub_v1
    from google.protobuf import duration_pb2

    topic_project = topic_project or project
    if create_topic:
        ensure_topic(topic_project, topic_name)
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
    client = subscriber_client()
    try:
        client.create_subscription(request=request)
        logger.debug("Created subscription %r (filter %r).", path, filter)
        return path
    except api_exceptions.AlreadyExists:
        pass
    existing = client.get_subscription(request={"subscription": path})
    if existing.topic == request["topic"]:
        return path
    if not os.environ.get("PUBSUB_EMULATOR_HOST"):
        raise ValueError(
            f"The subscription {path!r} already exists but reads the topic {existing.topic!r}, not "
            f"{request['topic']!r}: delete it, or choose another subscription name."
        )
    # On the emulator (scratch space), a subscription left on another topic is replaced rather than silently read.
    logger.warning("Replacing the emulator subscription %r, which read %r, with one on %r.", path, existing.topic, request["topic"])
    client.delete_subscription(request={"subscription": path})
    client.create_subscription(request=request)
    return path


def subscription_exists(project: str, subscription_name: str) -> bool:
    try:
        subscriber_client().get_subscription(subscription=subscription_path(project, subscription_name))
        return True
    except api_exceptions.NotFound:
        return False


def delete_subscription(
    project: str, subscription_name: str, *, emulator_host: str | None = None, timeout: float | None = None
) -> None:
    """Delete the subscription; a missing one is fine. With `timeout`, make one attempt of at most that long."""
    kwargs: dict[str, Any] = {} if timeout is None else {"timeout": timeout, "retry": None}
    try:
        subscriber_client(emulator_host).delete_subscription(
            subscription=subscription_path(project, subscription_name), **kwargs
        )
        logger.debug("Deleted subscription %r.", subscription_name)
    except api_exceptions.NotFound:
        pass


def ensure_service_resources(
    topic: str, subscription: str, sruid: str, dead_letter_topic: str | None = None
) -> None:
    """Create what a serving revision reads and writes, if missing: the services `topic`, this revision's
    `subscription` on it (filtered on `sruid`, also when the subscription's project is not the topic's) and the
    `dead_letter_topic`. Every argument is a full path (`projects/<p>/topics/<t>`, `projects/<p>/subscriptions/<s>`).
    """
    topic_project, topic_name = parse_topic(topic, "")
    subscription_project, subscription_name = parse_subscription(subscription, "")
    if not topic.startswith("projects/") or not subscription.startswith("projects/") or not subscription_name:
        raise ValueError(f"Full paths are needed, got topic {topic!r} and subscription {subscription!r}.")
    ensure_topic(topic_project, topic_name)
    if topic_project == subscription_project:
        ensure_subscription(
            subscription_project,
            subscription_name,
            topic_name=topic_name,
            filter=service_subscription_filter(sruid),
            create_topic=False,
        )
    else:
        # Across projects: create it, or keep the one there (its topic cannot be read back without rights on both).
        try:
            subscriber_client().create_subscription(
                request={
                    "name": subscription,
                    "topic": topic,
                    "filter": service_subscription_filter(sruid),
                    "ack_deadline_seconds": ACK_DEADLINE_SECONDS,
                    "enable_message_ordering": True,
                }
            )
        except api_exceptions.AlreadyExists:
            pass
    if dead_letter_topic:
        ensure_topic(*parse_topic(dead_letter_topic, topic_project))


# --- publishing -----------------------------------------------------------------------------------


def wire_message(event: Mapping[str, Any], attributes: Mapping[str, Any]) -> tuple[bytes, dict[str, str]]:
    """An event as it is published: its JSON bytes and its string attributes, given a new `uuid` and `datetime`."""
    wire_attributes = encode_attributes(refreshed(attributes))
    return serialisation.dumps(event).encode(), wire_attributes


class EventPublisher:
    """Publishes events to the services topic with `ordering_key = question_uuid`. Thread-safe; share one.

    Batching latency is kept low (events are small and a parent is waiting for them).
    """

    def __init__(
        self,
        project: str,
        topic_name: str | None = None,
        *,
        max_messages: int = 10,
        max_latency: float = 0.01,
        publish_timeout: float = 30.0,
    ) -> None:
        from google.cloud import pubsub_v1

        self.project = project
        self.topic = topic_path(project, topic_name)
        self.publish_timeout = publish_timeout
        self._client = pubsub_v1.PublisherClient(
            batch_settings=pubsub_v1.types.BatchSettings(
                max_bytes=10_000_000, max_latency=max_latency, max_messages=max_messages
            ),
            publisher_options=pubsub_v1.types.PublisherOptions(enable_message_ordering=True),
        )

    def publish(self, event: Mapping[str, Any], attributes: Mapping[str, Any], wait: bool = False) -> futures.Future:
        """Publish `event` with typed `attributes` (given a new `uuid` and `datetime`); return the publish future.

        With `wait=True` block until Pub/Sub accepted it (raising on failure).
        """
        data, wire_attributes = wire_message(event, attributes)
        return self.publish_raw(data, wire_attributes, ordering_key=wire_attributes.get("question_uuid", ""), wait=wait)

    def publish_raw(
        self, data: bytes, attributes: Mapping[str, str], ordering_key: str = "", wait: bool = False
    ) -> futures.Future:
        """Publish bytes with string attributes as given (tests use it to send malformed messages)."""
        future = self._client.publish(self.topic, data, ordering_key=ordering_key, **dict(attributes))
        if ordering_key:
            future.add_done_callback(lambda f: self._resume_on_failure(f, ordering_key))
        if wait:
            future.result(timeout=self.publish_timeout)
        return future

    def _resume_on_failure(self, future: futures.Future, ordering_key: str) -> None:
        """A failed publish pauses its ordering key; resume it so later events of that question still go out."""
        try:
            error = future.exception()
        except BaseException:  # noqa: BLE001 - cancelled
            error = True
        if error:
            logger.warning("Publishing an event for question %s failed (%s); resuming its ordering key.", ordering_key, error)
            try:
                self._client.resume_publish(self.topic, ordering_key)
            except Exception:  # noqa: BLE001
                logger.exception("Could not resume publishing for ordering key %r.", ordering_key)

    def close(self) -> None:
        """Flush and stop the client; the publisher cannot be used afterwards."""
        try:
            self._client.stop()
        except Exception:  # noqa: BLE001
            pass
