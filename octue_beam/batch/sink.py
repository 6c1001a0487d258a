"""`AnswerSink`: the event sink (`Publisher`) the answering core publishes to in a batch, where nothing is sent.

A batch has no parent waiting on Pub/Sub: a question's acknowledgement, heartbeats, logs and monitor messages go
nowhere, and its final event is written to the answers file by the pipeline (from the `Answer` the core returns).
The sink only refuses, as Pub/Sub would, a final event that cannot be serialised (the core then answers the
question with an exception saying so), and counts what it was given. There is no size limit: answers go to a file.
"""

import collections
import threading
from collections.abc import Mapping
from concurrent import futures
from typing import Any

from octue_beam import serialisation
from octue_beam.messaging import events


def _done(result: Any = None) -> futures.Future:
    future: futures.Future = futures.Future()
    future.set_result(result)
    return future


#: The future of every event the sink takes: done, with no result (shared: a done future never changes, and making
#: three per question was a twentieth of a batch's cost per question).
_TAKEN = _done()


class AnswerSink:
    """A thread-safe `Publisher` that sends nothing; `counts` says how many events of each kind it was given."""

    def __init__(self) -> None:
        self.counts: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()

    def publish(self, event: Mapping[str, Any], attributes: Mapping[str, Any], wait: bool = False) -> futures.Future:
        """Take an event; a final event that cannot be serialised is refused with the serialiser's TypeError or
        ValueError (raised at once with `wait`, else the future's exception)."""
        kind = event.get("kind")
        if kind in events.FINAL_KINDS:
            try:
                serialisation.dumps(event)
            except (TypeError, ValueError) as error:
                if wait:
                    raise
                future: futures.Future = futures.Future()
                future.set_exception(error)
                return future
        with self._lock:
            self.counts[str(kind)] += 1
        return _TAKEN

    def publish_raw(
        self, data: bytes, attributes: Mapping[str, str], ordering_key: str = "", wait: bool = False
    ) -> futures.Future:
        """Take raw bytes (nothing in a batch publishes them)."""
        return _TAKEN

    def close(self) -> None:
        """Nothing to release."""


def answer_sink(topic: str) -> AnswerSink:
    """The publisher factory a batch gives `ServiceWorkers` (the topic names nothing: no event leaves the worker)."""
    return AnswerSink()
