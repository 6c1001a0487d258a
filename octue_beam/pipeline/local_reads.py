"""The local runner's Pub/Sub reads: bigger pulls, any message size Pub/Sub accepts, and pulls that survive faults.

Beam's BundleBasedDirectRunner pulls at most 10 messages per read bundle, and each read bundle costs ~40 ms of
runner overhead, which caps a local pipeline at ~250 messages/s. On the Pub/Sub emulator a service's subscription
also receives every event on the services topic (the emulator ignores subscription filters), including the
service's own acknowledgements, heartbeats and results, so only about one message in four read is a question.
Raising the pull size (`--local_pull_size`, default 100) lets the local runner keep up. The runner acknowledges
messages when it pulls them (at-most-once locally, as before); Dataflow is not affected.

The runner pulls again as soon as a read bundle ends, and the emulator answers a pull at once with whatever it has,
so under a steady stream of questions the bundles got smaller as the emulator warmed up (45 messages per pull over
the first thousand questions, 6 by the eighth; the emulator's own CPU per question fell from ~5 to ~1.3 ms over the
run) and the runner's cost per bundle made the service slower with every question (10% to 30% fewer questions/s
after a few thousand). While messages stream in (a pull found `STREAMING_PULL_MESSAGES` or more), the next pull
starts `STREAMING_PULL_INTERVAL_SECONDS` after the previous one at the earliest; a pull after a quiet spell (a
question asked on its own) is never delayed. And each read leaves the runner an empty bundle that Beam would keep
as pending input for ever: `set_local_pull_size` also installs `local_watermarks.forget_empty_pending_bundles`.

The runner's subscriber client is also built through `octue_beam.messaging.clients` (so with its `CHANNEL_OPTIONS`):
Beam's own client keeps gRPC's 4 MiB receive limit, so one answer of 4.5-9.5 MB on the topic (which the service's
own subscription receives too on the emulator) made every later pull fail. And a pull or acknowledgement that fails
with a transient error (`TRANSIENT_ERRORS`: DEADLINE_EXCEEDED, UNAVAILABLE...) is logged once and retried with
backoff instead of failing the read bundle: the runner gives up on a bundle after 4 failed attempts, which ended the
whole service under load. A lost subscription (NotFound) still fails the read: that is for whoever runs the pipeline.
"""

import logging
import math
import time

from apache_beam.runners.direct import transform_evaluator
from google.cloud import pubsub_v1

from octue_beam.messaging.clients import TRANSIENT_ERRORS, new_client
from octue_beam.pipeline.local_hooks import replace_once
from octue_beam.pipeline.local_watermarks import forget_empty_pending_bundles

logger = logging.getLogger(__name__)

ACKNOWLEDGE_ATTEMPTS = 4
MAX_BACKOFF_SECONDS = 5.0
#: A pull that returned at least this many messages means messages are streaming in (a question brings three:
#: itself, its acknowledgement and its answer, all on the topic the service's subscription reads on the emulator).
STREAMING_PULL_MESSAGES = 4
#: While messages stream in, a pull starts at least this long after the previous one, so that they gather into
#: fewer, bigger read bundles (each costs the runner several ms of CPU over the pipeline's stages).
STREAMING_PULL_INTERVAL_SECONDS = 0.05

_pull_size = 10


class _LocalPulls:
    """Wraps the runner's subscriber client: each pull asks for up to `_pull_size` messages, waiting for the streaming
    interval first while messages stream in; transient faults of a pull give an empty pull after a backoff (logged
    once per outage), and acknowledgements are retried."""

    def __init__(self, client: object) -> None:
        self._client = client
        self._failures = 0
        self._streaming_since = -math.inf  # when the last pull that found messages streaming in started

    def pull(self, subscription: str, max_messages: int = 10, **kwargs: object) -> object:
        kwargs.setdefault("retry", None)  # the library would retry for up to a minute inside one read bundle
        wait = self._streaming_since + STREAMING_PULL_INTERVAL_SECONDS - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        started = time.monotonic()
        try:
            response = self._client.pull(
                subscription=subscription, max_messages=max(max_messages, _pull_size), **kwargs
            )
        except TRANSIENT_ERRORS as error:
            self._failed("pull from", subscription, error)
            return pubsub_v1.types.PullResponse()
        if self._failures:
            logger.warning("Reading %r again after %d failed pull(s).", subscription, self._failures)
            self._failures = 0
        streaming = len(response.received_messages) >= STREAMING_PULL_MESSAGES
        self._streaming_since = started if streaming else -math.inf
        return response

    def acknowledge(self, subscription: str, ack_ids: list, **kwargs: object) -> None:
        kwargs.setdefault("retry", None)
        for attempt in range(1, ACKNOWLEDGE_ATTEMPTS + 1):
            try:
                self._client.acknowledge(subscription=subscription, ack_ids=ack_ids, **kwargs)
                return
            except TRANSIENT_ERRORS as error:
                if attempt == ACKNOWLEDGE_ATTEMPTS:
                    # Redelivered after the ack deadline; the worker's seen set drops the copies of a question.
                    logger.warning(
                        "Could not acknowledge %d message(s) on %r (%s); they may be delivered again.",
                        len(ack_ids), subscription, type(error).__name__,
                    )
                    return
                time.sleep(min(0.2 * 2**attempt, MAX_BACKOFF_SECONDS))

    def _failed(self, action: str, subscription: str, error: BaseException) -> None:
        self._failures += 1
        if self._failures == 1:
            logger.warning(
                "Could not %s %r (%s: %s); retrying with backoff.",
                action, subscription, type(error).__name__, str(error).split("\n", 1)[0],
            )
        time.sleep(min(0.2 * 2 ** min(self._failures, 5), MAX_BACKOFF_SECONDS))

    def __getattr__(self, name: str) -> object:
        return getattr(self._client, name)


def set_local_pull_size(size: int) -> bool:
    """Make the local runner's Pub/Sub reads pull up to `size` messages, through a client built by
    `messaging.clients` that survives transient faults, and keep none of their empty bundles pending
    (`forget_empty_pending_bundles`), process-wide; False if this Beam version has no hook for the pulls."""
    global _pull_size
    forget_empty_pending_bundles()
    _pull_size = max(1, int(size))
    return replace_once(
        getattr(transform_evaluator, "_PubSubReadEvaluator", None),
        "_get_subscriber_client_state_unlocked",
        _with_local_pulls,
        "This Beam version's local runner cannot be given a Pub/Sub pull size; using its default.",
    )


def _with_local_pulls(original: classmethod) -> classmethod:
    original_function = original.__func__

    def _get_subscriber_client_state_unlocked(cls, transform):  # same signature as Beam's
        state = original_function(cls, transform)  # Beam's cached state of this read
        if not isinstance(state.client, _LocalPulls):
            default, state.client = state.client, _LocalPulls(new_client(pubsub_v1.SubscriberClient))
            default.close()
        return state

    return classmethod(_get_subscriber_client_state_unlocked)
