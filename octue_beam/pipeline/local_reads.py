"""Bigger Pub/Sub pulls on the local runner.

Beam's BundleBasedDirectRunner pulls at most 10 messages per read bundle, and each read bundle costs ~40 ms of
runner overhead, which caps a local pipeline at ~250 messages/s. On the Pub/Sub emulator a service's subscription
also receives every event on the services topic (the emulator ignores subscription filters), including the
service's own acknowledgements, heartbeats and results, so only about one message in four read is a question.
Raising the pull size (`--local_pull_size`, default 100) lets the local runner keep up. The runner acknowledges
messages when it pulls them (at-most-once locally, as before); Dataflow is not affected.
"""

import logging
import threading

from apache_beam.runners.direct import transform_evaluator

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_pull_size = 10
_installed = False


class _SizedPulls:
    """Wraps the runner's subscriber client so that each pull asks for up to `_pull_size` messages."""

    def __init__(self, client: object) -> None:
        self._client = client

    def pull(self, subscription: str, max_messages: int = 10, **kwargs: object) -> object:
        return self._client.pull(subscription=subscription, max_messages=max(max_messages, _pull_size), **kwargs)

    def __getattr__(self, name: str) -> object:
        return getattr(self._client, name)


def set_local_pull_size(size: int) -> bool:
    """Make the local runner's Pub/Sub reads pull up to `size` messages (process-wide); False if not possible."""
    global _pull_size, _installed
    evaluator = getattr(transform_evaluator, "_PubSubReadEvaluator", None)
    original = getattr(evaluator, "_get_subscriber_client", None)
    if original is None:
        logger.warning("This Beam version's local runner cannot be given a Pub/Sub pull size; using its default.")
        return False
    with _lock:
        _pull_size = max(1, int(size))
        if not _installed:
            original_function = original.__func__

            def _get_subscriber_client(cls, transform):  # same signature as Beam's
                return _SizedPulls(original_function(cls, transform))

            evaluator._get_subscriber_client = classmethod(_get_subscriber_client)
            _installed = True
    return True
