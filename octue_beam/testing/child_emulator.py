"""`ChildEmulator`: a child that replays recorded events as its answer, with no Pub/Sub (for tests).

Events are `{"event": {...}, "attributes": {...}}` dicts as recorded by `ask(..., record_events=list)`,
`Child.received_events` or a diagnostics' `questions.json`. Replaying them behaves like a live child: log records
are re-emitted through Python logging with the child's prefix, monitor messages go to `handle_monitor_message`,
an `exception` event raises the child's exception (re-created as `ask` does) and a `result` event is the answer.
Events after the first `result` or `exception` are ignored; inputs are not validated (the child's twine is unknown).
"""

import logging
import uuid as uuid_module
from collections.abc import Callable, Iterable
from typing import Any

from octue_beam import serialisation
from octue_beam.asking.logs import emit_log_record
from octue_beam.asking.remote_errors import remote_exception
from octue_beam.context import current_monitor_forwarder
from octue_beam.resources import Manifest

logger = logging.getLogger(__name__)

DEFAULT_ID = "local/emulated-child:local"


class ChildEmulator:
    """Replays `events` as the answer to every question asked of it.

    :param events: recorded events, in the order they were received
    :param id: the child's SRUID (default: the `sender` of the first event)
    :param key: the child's key in the parent's children (informative)
    """

    def __init__(self, events: Iterable[dict] | None = None, id: str | None = None, key: str | None = None) -> None:
        self.events = [_check_event(item, index) for index, item in enumerate(events or [])]
        first_attributes = self.events[0].get("attributes") or {} if self.events else {}
        self.id = id or first_attributes.get("sender") or DEFAULT_ID
        self.key = key
        self.questions: list[dict] = []  # the arguments of every ask, for assertions in tests
        self.received_events: list[dict] = []

    def ask(
        self,
        input_values: Any = None,
        input_manifest: Any = None,
        *,
        handle_monitor_message: Callable[[Any], None] | None = None,
        record_events: list | None = None,
        asynchronous: bool = False,
        question_uuid: str | None = None,
        **ignored: Any,
    ) -> tuple[dict | None, str]:
        """Replay the events: `(answer, question_uuid)` like `octue_beam.ask`, or raise the recorded exception.

        `answer` is `{"output_values", "output_manifest"}` from the recorded `result` event, or None (with a
        warning) when the recording has none. The question UUID is the recorded one, else `question_uuid`.
        """
        self.questions.append(
            {"input_values": input_values, "input_manifest": input_manifest, "question_uuid": question_uuid, **ignored}
        )
        recorded_uuid = next(
            (
                item["attributes"]["question_uuid"]
                for item in self.events
                if (item.get("attributes") or {}).get("question_uuid")
            ),
            None,
        )
        question_uuid = recorded_uuid or question_uuid or str(uuid_module.uuid4())
        if asynchronous:
            return None, question_uuid
        if handle_monitor_message is None:
            handle_monitor_message = current_monitor_forwarder()
        received: list[dict] = []
        self.received_events = received
        for item in self.events:
            received.append(item)
            if record_events is not None:
                record_events.append(item)
            answer = self._handle(item, question_uuid, handle_monitor_message)
            if answer is not None:
                return answer, question_uuid
        logger.warning("The events replayed by %s for question %s contain no result.", self.id, question_uuid)
        return None, question_uuid

    def _handle(
        self, item: dict, question_uuid: str, handle_monitor_message: Callable[[Any], None] | None
    ) -> dict | None:
        event = item["event"]
        attributes = {"sender": self.id, "question_uuid": question_uuid, **(item.get("attributes") or {})}
        kind = event["kind"]
        if kind == "result":
            decoded = serialisation.loads(serialisation.dumps(event))
            return {
                "output_values": decoded.get("output_values"),
                "output_manifest": _manifest(event.get("output_manifest")),
            }
        if kind == "exception":
            raise remote_exception(event, attributes)
        if kind == "log_record":
            emit_log_record(event["log_record"], attributes)
        elif kind == "monitor_message":
            if handle_monitor_message is not None:
                handle_monitor_message(event.get("data"))
        elif kind == "delivery_acknowledgement":
            logger.info("%s (emulated) received question %s.", attributes["sender"], question_uuid)
        return None

    def __repr__(self) -> str:
        return f"<ChildEmulator {self.id} ({len(self.events)} events)>"


def _check_event(item: Any, index: int) -> dict:
    event = item.get("event") if isinstance(item, dict) else None
    if not (isinstance(event, dict) and isinstance(event.get("kind"), str)):
        raise ValueError(
            f"Event {index} given to ChildEmulator must be {{'event': {{'kind': ...}}, 'attributes': {{...}}}} as "
            f"recorded by ask(record_events=...); got {item!r:.200}."
        )
    return item


def _manifest(primitive: Any) -> Any:
    if primitive is None:
        return None
    return Manifest.from_primitive(serialisation.loads(serialisation.dumps(primitive), decode_types=False))

