"""Answering the questions a stopped service process left in flight: each question of its journal
(`answering.journal`) gets an `exception` event (e.g. `ServiceStopped`) on the Pub/Sub it was asked on, so that its
parent learns at once rather than after its heartbeat timeout.

Kept apart from the journal itself so that a process that only keeps and claims journals (the local `run`
supervisor, while its pipeline process serves) does not load the Pub/Sub client until a question needs answering.
"""

import contextlib
import logging
import os
import socket

from octue_beam.answering.journal import InFlight, Journal
from octue_beam.messaging import events
from octue_beam.messaging.publishing import OrderedBatchPublisher
from octue_beam.messaging.pubsub import parse_topic

logger = logging.getLogger(__name__)


def answer_in_flight(folder: str, error: BaseException, timeout: float = 10.0) -> int:
    """Answer every question journaled in `folder` with an `exception` event of `error`, then forget them; return
    how many were answered. A question whose Pub/Sub cannot be reached is dropped with a warning (its parent, on a
    stopped emulator, cannot be told)."""
    entries = Journal.read(folder)
    groups: dict[tuple[str, str], list[InFlight]] = {}
    for entry in entries:
        groups.setdefault((entry.emulator_host, entry.topic), []).append(entry)
    answered = 0
    for (host, topic), group in groups.items():
        answered += _answer_group(host, topic, group, error, timeout)
        for entry in group:
            with contextlib.suppress(OSError):
                os.remove(entry.path)
    return answered


def _answer_group(host: str, topic: str, group: list[InFlight], error: BaseException, timeout: float) -> int:
    uuids = ", ".join(str(entry.attributes.get("question_uuid")) for entry in group)
    if host and not _accepts_connections(host):
        logger.warning("Cannot tell the parents of %s that their service stopped: no Pub/Sub emulator on %s.", uuids,
                       host)
        return 0
    project, name = parse_topic(topic, "")
    publisher = OrderedBatchPublisher(project, name, emulator_host=host, publish_timeout=timeout)
    answered = 0
    try:
        sent = [(entry, publisher.publish(events.exception(error), entry.attributes)) for entry in group]
        for entry, future in sent:
            try:
                future.result(timeout=4 * timeout)
                answered += 1
            except Exception as failure:  # noqa: BLE001 - reported; the others are still answered
                logger.warning("Could not answer question %s: %s", entry.attributes.get("question_uuid"), failure)
    finally:
        with contextlib.suppress(Exception):
            publisher.close()
    return answered


def _accepts_connections(host_port: str, timeout: float = 2.0) -> bool:
    host, _, port = host_port.rpartition(":")
    try:
        with socket.create_connection((host or "localhost", int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False
