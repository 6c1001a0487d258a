"""The in-flight journal: on disk, which questions a service process is answering, so that whoever outlives the
process can answer them with an `exception` when it dies without answering (a crash, `os._exit` in an app, the OOM
killer, SIGKILL).

A question is *in flight* from its `delivery_acknowledgement` (the parent now waits for an answer) until its final
`result` or `exception` was accepted by Pub/Sub. `JournalingPublisher` wraps the event sink of the answering core
and keeps one small JSON file per question in flight in a folder (written when the acknowledgement is published,
removed when the final event's publish succeeded): it sees exactly what the parent was told, so the answering core
needs no hook, and nothing is written for duplicates, rejections or questions that never started. The file holds
the question's response attributes, its topic and its Pub/Sub emulator, all that is needed to answer it later.

The local `run` command (`octue_beam.cli.supervising`) gives its pipeline process a folder through
`OCTUE_BEAM_JOURNAL_DIR` (`journaled` reads it) and calls `answering.stopped.answer_in_flight` when that process
dies or is stopped, and on start for the folders of `run`s that were killed (`claim_abandoned`). Folders live under
`journal_root()`: `$OCTUE_BEAM_STATE_DIR/journal`, else `$XDG_STATE_HOME/octue-beam/journal`, else
`~/.local/state/octue-beam/journal`, so that they survive a restart of `run`. Without the variable (Dataflow,
tests driving the core) nothing is journaled.

A question whose final event was accepted a moment before the process died may still be found in the journal (the
entry is removed just after): its parent then receives an `exception` after its answer, which it ignores.
"""

import contextlib
import dataclasses
import functools
import hashlib
import json
import logging
import os
import shutil
from collections.abc import Mapping
from concurrent import futures
from typing import TYPE_CHECKING, Any

from octue_beam.environment import pubsub_emulator_host
from octue_beam.messaging import events
from octue_beam.processes import identity_is_running

if TYPE_CHECKING:  # the Pub/Sub client is not imported by those who only read and clear journals (`run`)
    from octue_beam.messaging.publishing import Publisher

logger = logging.getLogger(__name__)

JOURNAL_VARIABLE = "OCTUE_BEAM_JOURNAL_DIR"
STATE_VARIABLE = "OCTUE_BEAM_STATE_DIR"
RUN_FOLDER_PREFIX = "run-"
_SUFFIX = ".json"


def state_folder() -> str:
    """Where octue_beam keeps state that must survive a restart (`$OCTUE_BEAM_STATE_DIR`, else the XDG state
    folder)."""
    configured = os.environ.get(STATE_VARIABLE)
    if configured:
        return os.path.abspath(configured)
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, "octue-beam")


def journal_root() -> str:
    """The folder holding one journal folder per running (or killed) `run` command."""
    return os.path.join(state_folder(), "journal")


@dataclasses.dataclass(frozen=True)
class InFlight:
    """A question in flight as the journal keeps it: its response attributes, topic and emulator (`""`: Pub/Sub)."""

    path: str
    topic: str
    emulator_host: str
    attributes: Mapping[str, Any]


class Journal:
    """One folder of in-flight questions (one JSON file each) of one process publishing to `topic`."""

    def __init__(self, folder: str, topic: str, emulator_host: str = "") -> None:
        self.folder = folder
        self.topic = topic
        self.emulator_host = emulator_host
        os.makedirs(folder, exist_ok=True)

    def _path(self, attributes: Mapping[str, Any]) -> str:
        key = f"{attributes.get('question_uuid')}:{attributes.get('retry_count', 0)}"
        return os.path.join(self.folder, hashlib.sha256(key.encode()).hexdigest()[:32] + _SUFFIX)

    def started(self, attributes: Mapping[str, Any]) -> None:
        """Record the question of these response attributes as in flight (atomically: never half a file)."""
        path = self._path(attributes)
        record = {"topic": self.topic, "emulator_host": self.emulator_host, "attributes": dict(attributes)}
        try:
            with open(path + ".tmp", "w") as file:
                json.dump(record, file, default=str)
            os.replace(path + ".tmp", path)
        except OSError:  # the journal must never fail a question
            logger.exception("Could not journal question %s.", attributes.get("question_uuid"))

    def ended(self, attributes: Mapping[str, Any]) -> None:
        """Forget the question (its final event was sent)."""
        with contextlib.suppress(FileNotFoundError):
            os.remove(self._path(attributes))

    @staticmethod
    def holds_entries(folder: str) -> bool:
        """Whether `folder` holds any journal entry (not read: a cheap look before loading what answers them)."""
        try:
            return any(name.endswith(_SUFFIX) for name in os.listdir(folder))
        except FileNotFoundError:
            return False

    @staticmethod
    def read(folder: str) -> list[InFlight]:
        """The questions in flight recorded in `folder` (unreadable files are dropped)."""
        entries = []
        try:
            names = sorted(os.listdir(folder))
        except FileNotFoundError:
            return []
        for name in names:
            path = os.path.join(folder, name)
            if not name.endswith(_SUFFIX):
                continue
            try:
                with open(path) as file:
                    record = json.load(file)
                entries.append(InFlight(path, record["topic"], record.get("emulator_host") or "", record["attributes"]))
            except (OSError, ValueError, KeyError, TypeError):
                logger.warning("Dropping the unreadable journal entry %s.", path)
                with contextlib.suppress(OSError):
                    os.remove(path)
        return entries


class JournalingPublisher:
    """A `Publisher` that journals the questions whose events it publishes (see the module docstring)."""

    def __init__(self, publisher: "Publisher", journal: Journal) -> None:
        self.publisher = publisher
        self.journal = journal

    def publish(self, event: Mapping[str, Any], attributes: Mapping[str, Any], wait: bool = False) -> futures.Future:
        kind = event.get("kind")
        if kind == events.DELIVERY_ACKNOWLEDGEMENT:
            self.journal.started(attributes)
        future = self.publisher.publish(event, attributes, wait=wait)
        if kind in events.FINAL_KINDS:
            future.add_done_callback(functools.partial(self._final_sent, dict(attributes)))
        return future

    def _final_sent(self, attributes: dict, future: futures.Future) -> None:
        # A final event Pub/Sub refused keeps the question in flight: the core sends a replacement exception, and if
        # that fails too, whoever answers the journal tells the parent.
        if not future.cancelled() and future.exception() is None:
            self.journal.ended(attributes)

    def publish_raw(
        self, data: bytes, attributes: Mapping[str, str], ordering_key: str = "", wait: bool = False
    ) -> futures.Future:
        return self.publisher.publish_raw(data, attributes, ordering_key=ordering_key, wait=wait)

    def close(self) -> None:
        self.publisher.close()


def journaled(publisher: "Publisher", topic: str) -> "Publisher":
    """`publisher` journaling into `$OCTUE_BEAM_JOURNAL_DIR` when that is set (by the `run` command supervising
    this process), else `publisher` itself. `topic` is where the publisher publishes (`projects/<p>/topics/<t>`)."""
    folder = os.environ.get(JOURNAL_VARIABLE)
    if not folder:
        return publisher
    try:
        journal = Journal(folder, topic, pubsub_emulator_host())
    except OSError:
        logger.exception("Could not open the journal %s: questions in flight are not journaled.", folder)
        return publisher
    return JournalingPublisher(publisher, journal)


def run_folder(identity: str) -> str:
    """The journal folder of the `run` command with this `processes.process_identity`."""
    return os.path.join(journal_root(), f"{RUN_FOLDER_PREFIX}{identity}")


def claim_abandoned(identity: str) -> list[str]:
    """Take over the journal folders of `run` commands that no longer run (killed), renaming each into the name
    space of `identity` so that two `run`s starting together never both answer it; return the claimed folders."""
    root = journal_root()
    try:
        names = os.listdir(root)
    except FileNotFoundError:
        return []
    claimed = []
    for name in names:
        if not name.startswith(RUN_FOLDER_PREFIX):
            continue
        owner = name[len(RUN_FOLDER_PREFIX):].split(".", 1)[0]
        if owner == identity or identity_is_running(owner):
            continue
        target = os.path.join(root, f"{RUN_FOLDER_PREFIX}{identity}.{name}")
        try:
            os.rename(os.path.join(root, name), target)
        except OSError:  # another run claimed it first
            continue
        claimed.append(target)
    return claimed


def remove_folder(folder: str) -> None:
    """Remove a journal folder (after its questions were answered)."""
    shutil.rmtree(folder, ignore_errors=True)
