"""Sending the events of one question, in order, while it runs: acknowledgement, heartbeats, logs, monitor messages.

All events of a question go straight to the event sink (a `Publisher`; in the pipeline not via WriteToPubSub, which
the DirectRunner only flushes at bundle end). A `QuestionEmitter` serialises them: once the final `result` or
`exception` is out, nothing else of that question is sent, so a late heartbeat never follows the answer.
"""

import logging
import threading
from collections.abc import Mapping
from concurrent import futures
from typing import Any

from octue_beam.messaging.publishing import Publisher

logger = logging.getLogger(__name__)


class QuestionEmitter:
    """Publishes the events of one question with its response attributes; thread-safe."""

    def __init__(self, publisher: Publisher, attributes: Mapping[str, Any], publish_timeout: float = 60.0) -> None:
        self.publisher = publisher
        self.attributes = dict(attributes)
        self.question_uuid = self.attributes.get("question_uuid")
        self.publish_timeout = publish_timeout
        self._lock = threading.Lock()
        self._finished = False

    @property
    def finished(self) -> bool:
        return self._finished

    def send(self, event: Mapping[str, Any]) -> bool:
        """Publish a non-final event without waiting; False if the question already ended or publishing failed."""
        with self._lock:
            if self._finished:
                return False
            try:
                self.publisher.publish(event, self.attributes)
                return True
            except Exception:  # a lost heartbeat or log must not fail the question
                logger.exception("Could not publish a %r event of question %s.", event.get("kind"), self.question_uuid)
                return False

    def finish(self, event: Mapping[str, Any]) -> futures.Future:
        """Publish the final event (nothing of this question is sent after it); return the publish future."""
        with self._lock:
            self._finished = True
            return self.publisher.publish(event, self.attributes)
