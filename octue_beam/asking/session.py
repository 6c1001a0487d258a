"""The live objects a process asks questions with, held in one place: an `AskingSession`.

A session holds
- one question publisher per services topic and emulator (`UnorderedPublisher`),
- when each services topic was last made sure of on an emulator,
- one started `AnswerListener` per (project, parent SRUID, topic, emulator, process): the answer subscription that
  all its questions share,
- the questions asked asynchronously, whose events are buffered until `get_answer` / `get_events` read them.

`ask`, `ask_multiple`, `Child` and `get_answer` use the process's session, `default_session()`. A test may give the
process a fresh one with `use_session(AskingSession())` and close it afterwards; closing a session closes its
listeners (deleting their subscriptions) and publishers. `close_listeners(emulator_host)` closes the default
session's listeners of one emulator: call it before stopping that emulator (the pytest plugin does).
"""

import dataclasses
import logging
import math
import os
import threading
import time

from octue_beam.asking.answers import AnswerListener
from octue_beam.asking.questions import Question
from octue_beam.asking.waiting import Waiter
from octue_beam.messaging import pubsub
from octue_beam.messaging.clients import resolve_emulator_host
from octue_beam.messaging.publishing import UnorderedPublisher

logger = logging.getLogger(__name__)

TOPIC_CHECK_SECONDS = 10  # an emulator may have been restarted since the topic was made


@dataclasses.dataclass
class TrackedQuestion:
    """A question asked asynchronously: its waiter (reading its events queue) and the listener it is registered
    with. `lock` serialises readers of the question."""

    question: Question
    waiter: Waiter
    listener: AnswerListener
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)


class AskingSession:
    """Publishers, answer listeners and asynchronous questions of one asker (normally: the process). Thread-safe."""

    def __init__(self) -> None:
        self._publishers: dict[tuple[str, str], UnorderedPublisher] = {}
        self._topics_checked: dict[tuple[str, str], float] = {}
        self._listeners: dict[tuple[str, str, str, str, int], AnswerListener] = {}
        self._tracked: dict[str, TrackedQuestion] = {}
        self._lock = threading.Lock()

    # --- publishing ---------------------------------------------------------------------------------------------

    def publisher(self, project: str, topic_name: str | None, emulator_host: str) -> UnorderedPublisher:
        """The question publisher of the services topic on `emulator_host` ("" for the real Pub/Sub)."""
        key = (pubsub.topic_path(project, topic_name), emulator_host)
        with self._lock:
            publisher = self._publishers.get(key)
            if publisher is None:
                publisher = UnorderedPublisher(project, topic_name, emulator_host=emulator_host)
                self._publishers[key] = publisher
            return publisher

    def ensure_emulator_topic(self, project: str, topic_name: str | None, emulator_host: str) -> None:
        """On an emulator, create the services topic if missing (at most every `TOPIC_CHECK_SECONDS` per topic and
        emulator). On the real Pub/Sub, do nothing: a missing topic there is reported as ServiceNotFound."""
        if not emulator_host:
            return
        key = (pubsub.topic_path(project, topic_name), emulator_host)
        now = time.monotonic()
        with self._lock:
            if now - self._topics_checked.get(key, -math.inf) < TOPIC_CHECK_SECONDS:
                return
        pubsub.ensure_topic(project, topic_name, emulator_host=emulator_host)
        with self._lock:
            self._topics_checked[key] = now

    def topic_missing(self, project: str, topic_name: str | None, emulator_host: str) -> None:
        """Forget that the topic was made on `emulator_host` (a publish found it missing: the emulator restarted), so
        that the next question makes it again at once."""
        with self._lock:
            self._topics_checked.pop((pubsub.topic_path(project, topic_name), emulator_host), None)

    # --- listening ----------------------------------------------------------------------------------------------

    def listener(
        self, project: str, parent_sruid: str, topic_name: str | None = None, emulator_host: str | None = None
    ) -> AnswerListener:
        """The started answer listener of (project, parent SRUID, topic, emulator) in this process, made on first use
        (`emulator_host` None: as PUBSUB_EMULATOR_HOST says now)."""
        emulator_host = resolve_emulator_host(emulator_host)
        key = (project, parent_sruid, pubsub.topic_path(project, topic_name), emulator_host, os.getpid())
        with self._lock:
            listener = self._listeners.get(key)
            if listener is None:
                listener = AnswerListener(
                    project, parent_sruid, topic_name, emulator_host=emulator_host, on_close=self._forget_listener
                )
                self._listeners[key] = listener
        return listener.start()

    def _forget_listener(self, listener: AnswerListener) -> None:
        with self._lock:
            for key, held in list(self._listeners.items()):
                if held is listener:
                    del self._listeners[key]

    def close_listeners(self, emulator_host: str | None = None) -> None:
        """Close the listeners (deleting their subscriptions): all, or those on `emulator_host`."""
        with self._lock:
            listeners = list(self._listeners.values())
        for listener in listeners:
            if emulator_host is None or listener.emulator_host == emulator_host:
                listener.close()

    # --- asynchronous questions ---------------------------------------------------------------------------------

    def track(self, tracked: TrackedQuestion) -> None:
        """Keep an asynchronous question until it is forgotten."""
        with self._lock:
            self._tracked[tracked.question.question_uuid] = tracked

    def tracked(self, question_uuid: str) -> TrackedQuestion | None:
        """The asynchronous question of that UUID, if tracked."""
        with self._lock:
            return self._tracked.get(question_uuid)

    def forget(self, question_uuid: str) -> TrackedQuestion | None:
        """Stop tracking the question (and return it, if it was)."""
        with self._lock:
            return self._tracked.pop(question_uuid, None)

    # --- ending -------------------------------------------------------------------------------------------------

    def close(self) -> None:
        """Close every listener and publisher and forget the asynchronous questions. Idempotent."""
        self.close_listeners()
        with self._lock:
            publishers, self._publishers = list(self._publishers.values()), {}
            self._tracked.clear()
            self._topics_checked.clear()
        for publisher in publishers:
            publisher.close()


_default = AskingSession()


def default_session() -> AskingSession:
    """The process's asking session."""
    return _default


def use_session(session: AskingSession) -> AskingSession:
    """Make `session` the process's asking session; return the previous one (e.g. to restore it after a test)."""
    global _default
    previous, _default = _default, session
    return previous


def close_listeners(emulator_host: str | None = None) -> None:
    """Close the process's answer listeners: all, or those on `emulator_host` (call it before stopping that
    emulator, so that no streaming pull is left reading a stopped one)."""
    default_session().close_listeners(emulator_host)
