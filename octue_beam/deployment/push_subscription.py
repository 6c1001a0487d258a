"""The push subscription that delivers a revision's questions to its Cloud Run service (docs/deployment.md).

It is the subscription a serving revision reads anywhere else (PROTOCOL.md): on the services topic, named after the
Pub/Sub form of the SRUID, filtered on `attributes.recipient = "<sruid>" AND attributes.sender_type = "PARENT"`; here
Pub/Sub pushes each question to the Cloud Run service's URI as an HTTP `POST` with an OIDC token of the push
service account (which must be an invoker of the service, `cloud_run.grant_invoker`). It has the longest ack
deadline Pub/Sub allows (600 s: the server answers before it returns 2xx), a retry policy backing off from 10 s to
600 s between redeliveries of a refused push, and no expiration (Pub/Sub would otherwise delete a subscription after
31 days without a question).

`ensure_push_subscription` creates it, or updates what may change of an existing one (push endpoint and token, ack
deadline, retry policy, expiration); its topic and filter cannot change, so an existing subscription with another
one is refused. The clients (`pubsub_v1.SubscriberClient`, `pubsub_v1.PublisherClient`) are made by the caller.
"""

from typing import Any

from google.api_core import exceptions as api_exceptions
from google.cloud import pubsub_v1
from google.protobuf import duration_pb2, field_mask_pb2, json_format

from octue_beam.deployment.errors import DeploymentError, google_call
from octue_beam.messaging.pubsub import (
    ACK_DEADLINE_SECONDS,
    service_subscription_filter,
    service_subscription_name,
    subscription_path,
    topic_path,
)

MINIMUM_BACKOFF_SECONDS = 10
MAXIMUM_BACKOFF_SECONDS = 600
#: The fields `ensure_push_subscription` updates on an existing subscription when they differ.
UPDATABLE_FIELDS = ("push_config", "ack_deadline_seconds", "retry_policy", "expiration_policy")


def push_subscription(
    project: str, sruid: str, push_endpoint: str, push_service_account: str, topic_name: str | None = None
) -> pubsub_v1.types.Subscription:
    """The push subscription of the revision `sruid` in `project`, on the services topic (`topic_name`, default
    `services_topic_name()`), pushing to `push_endpoint` with OIDC tokens of `push_service_account` (their audience
    is Pub/Sub's default, the endpoint itself, which Cloud Run accepts)."""
    return pubsub_v1.types.Subscription(
        name=subscription_path(project, service_subscription_name(sruid)),
        topic=topic_path(project, topic_name),
        filter=service_subscription_filter(sruid),
        push_config=pubsub_v1.types.PushConfig(
            push_endpoint=push_endpoint,
            oidc_token=pubsub_v1.types.PushConfig.OidcToken(service_account_email=push_service_account),
        ),
        ack_deadline_seconds=ACK_DEADLINE_SECONDS,
        retry_policy=pubsub_v1.types.RetryPolicy(
            minimum_backoff=duration_pb2.Duration(seconds=MINIMUM_BACKOFF_SECONDS),
            maximum_backoff=duration_pb2.Duration(seconds=MAXIMUM_BACKOFF_SECONDS),
        ),
        expiration_policy=pubsub_v1.types.ExpirationPolicy(),  # no ttl: never expires
        enable_message_ordering=True,
    )


def subscription_as_dict(subscription: pubsub_v1.types.Subscription) -> dict[str, Any]:
    """The subscription as the JSON body Pub/Sub's REST API receives (camelCase keys)."""
    message = pubsub_v1.types.Subscription.pb(subscription)
    return json_format.MessageToDict(message)


def fields_to_update(existing: pubsub_v1.types.Subscription, wanted: pubsub_v1.types.Subscription) -> list[str]:
    """The `UPDATABLE_FIELDS` in which `existing` differs from `wanted` (the update mask)."""
    existing_pb = pubsub_v1.types.Subscription.pb(existing)
    wanted_pb = pubsub_v1.types.Subscription.pb(wanted)
    differing = []
    for field in UPDATABLE_FIELDS:
        if field == "expiration_policy":
            # Never expiring is an expiration policy without a ttl; Pub/Sub's default has one of 31 days.
            if existing_pb.expiration_policy.HasField("ttl") != wanted_pb.expiration_policy.HasField("ttl") or (
                existing_pb.expiration_policy.ttl != wanted_pb.expiration_policy.ttl
            ):
                differing.append(field)
        elif getattr(existing_pb, field) != getattr(wanted_pb, field):
            differing.append(field)
    return differing


def ensure_topic(publisher: pubsub_v1.PublisherClient, topic: str) -> bool:
    """Create the services topic if it does not exist yet (a project's first service); return whether it was."""
    try:
        with google_call("Pub/Sub create_topic", topic):
            publisher.create_topic(name=topic)
        return True
    except DeploymentError as error:
        if isinstance(error.__cause__, api_exceptions.AlreadyExists):
            return False
        raise


def existing_subscription(
    subscriber: pubsub_v1.SubscriberClient, subscription: pubsub_v1.types.Subscription
) -> pubsub_v1.types.Subscription | None:
    """The subscription of that name Pub/Sub has, None if none. One on another topic or with another filter (both
    fixed at creation: two SRUIDs can share a subscription name, `1.0` and `1-0`) is a `DeploymentError`, raised
    before anything is deployed when called first."""
    name = subscription.name
    try:
        with google_call("Pub/Sub get_subscription", name):
            existing = subscriber.get_subscription(subscription=name)
    except DeploymentError as error:
        if isinstance(error.__cause__, api_exceptions.NotFound):
            return None
        raise
    for field in ("topic", "filter"):
        if getattr(existing, field) != getattr(subscription, field):
            raise DeploymentError(
                f"The subscription {name} already exists with the {field} {getattr(existing, field)!r}, not "
                f"{getattr(subscription, field)!r}, and Pub/Sub cannot change a subscription's {field}: delete it "
                "(`gcloud pubsub subscriptions delete`) and deploy again."
            )
    return existing


def ensure_push_subscription(
    subscriber: pubsub_v1.SubscriberClient, subscription: pubsub_v1.types.Subscription
) -> tuple[str, pubsub_v1.types.Subscription]:
    """Create `subscription`, or update an existing one to it. Returns `("created" | "updated" | "unchanged", the
    subscription as Pub/Sub now has it)`. An existing subscription of that name on another topic or with another
    filter is left alone and a `DeploymentError` says so (`existing_subscription`)."""
    existing = existing_subscription(subscriber, subscription)
    if existing is None:
        with google_call("Pub/Sub create_subscription", subscription.name):
            return "created", subscriber.create_subscription(request=subscription)
    differing = fields_to_update(existing, subscription)
    if not differing:
        return "unchanged", existing
    with google_call("Pub/Sub update_subscription", subscription.name):
        updated = subscriber.update_subscription(
            request={"subscription": subscription, "update_mask": field_mask_pb2.FieldMask(paths=differing)}
        )
    return "updated", updated
