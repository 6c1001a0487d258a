"""A tiny in-test child: pulls its service subscription and answers each question with a script of events."""

import threading
import uuid
from collections.abc import Callable
from typing import Any

from octue_beam.messaging import pubsub
from octue_beam.messaging.attributes import response_attributes
from octue_beam.messaging.parsing import is_addressed_to, parse_message
from octue_beam.messaging.publishing import OrderedBatchPublisher

Send = Callable[..., Any]


class Responder:
    """Answers questions addressed to `sruid` by calling `script(event, attributes, send)` in a thread per question.

    `send(event, **attribute_overrides)` publishes a response event with the question's response attributes.
    """

    def __init__(self, project: str, script: Callable[[dict, dict, Send], None], sruid: str | None = None) -> None:
        self.project = project
        self.script = script
        self.sruid = sruid or f"test-org/responder-{uuid.uuid4().hex[:10]}:1.0.0"
        self.subscription = pubsub.service_subscription_name(self.sruid)
        self.questions: list[tuple[dict, dict]] = []
        self.publisher = OrderedBatchPublisher(project)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> "Responder":
        pubsub.ensure_subscription(
            self.project, self.subscription, filter=pubsub.service_subscription_filter(self.sruid)
        )
        thread = threading.Thread(target=self._pull, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        self.publisher.close()
        pubsub.delete_subscription(self.project, self.subscription)

    def _pull(self) -> None:
        client = pubsub.subscriber_client()
        path = pubsub.subscription_path(self.project, self.subscription)
        while not self._stop.is_set():
            try:
                response = client.pull(subscription=path, max_messages=20, timeout=1)
            except Exception:  # noqa: BLE001 - deadline exceeded with nothing to pull
                continue
            if not response.received_messages:
                continue
            client.acknowledge(subscription=path, ack_ids=[m.ack_id for m in response.received_messages])
            for received in response.received_messages:
                message = received.message
                if not is_addressed_to(message.attributes, self.sruid, "PARENT"):
                    continue
                event, attributes = parse_message(message.data, dict(message.attributes))
                self.questions.append((event, attributes))
                thread = threading.Thread(target=self._answer, args=(event, attributes), daemon=True)
                thread.start()
                self._threads.append(thread)

    def _answer(self, event: dict, attributes: dict) -> None:
        base = response_attributes(attributes, "0.1.0")

        def send(response_event: dict, **overrides: Any) -> None:
            self.publisher.publish(response_event, {**base, **overrides}, wait=True)

        self.script(event, attributes, send)
