"""A service that has its subscription but does not read it (deployed, but stopped or still starting): questions to
it are delivered to that subscription and wait for their timeouts, where a question to a service with no
subscription at all fails at once (`octue_beam.asking.delivery`)."""

import contextlib
import uuid
from collections.abc import Iterator

from octue_beam.asking.preparing import resolve_project
from octue_beam.messaging import pubsub


@contextlib.contextmanager
def subscribed_but_not_reading(sruid: str, project: str | None = None, topic_name: str | None = None) -> Iterator[str]:
    """A subscription of the services topic filtered on `sruid`, read by no one, for the `with` block (deleted
    after); yields its name. `project` defaults to the one `ask` uses."""
    project = resolve_project(project)
    name = f"{pubsub.service_subscription_name(sruid)}.idle.{uuid.uuid4().hex[:6]}"
    pubsub.ensure_subscription(project, name, topic_name, filter=pubsub.service_subscription_filter(sruid))
    try:
        yield name
    finally:
        pubsub.delete_subscription(project, name)
