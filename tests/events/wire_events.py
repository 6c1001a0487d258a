"""Stored event rows for the event-store tests, made from the wire messages the protocol code publishes
(`messaging.publishing.wire_message`) and turned into rows by the recorder's own `event_row`."""

import datetime
import itertools
import json
from typing import Any

from octue_beam.events.rows import event_row
from octue_beam.messaging import events
from octue_beam.messaging.attributes import question_attributes, response_attributes
from octue_beam.messaging.publishing import ordering_key, wire_message

CLIENT = "octue-beam-tests/laptop:local"
SERVICE = "octue-beam-tests/service:1.0.0"
CHILD = "octue-beam-tests/child:1.0.0"
SDK_VERSION = "0.1.0"
START = datetime.datetime(2025, 3, 4, 9, 30, tzinfo=datetime.timezone.utc)

_message_ids = itertools.count(1)


class Tree:
    """Stored rows (JSON columns as text, as in the files) of questions and their responses, each published
    `at` seconds after `START`."""

    def __init__(self) -> None:
        self.stored: list[dict[str, Any]] = []
        self.published: list[tuple[bytes, dict[str, str], str, str]] = []  # data, attributes, message id, key

    def ask(self, at: float, recipient: str = SERVICE, parent: dict | None = None, input_values: Any = None,
            retry_count: int = 0, question_uuid: str | None = None) -> dict:
        attributes = question_attributes(
            sender=parent["recipient"] if parent else CLIENT,
            recipient=recipient,
            sender_sdk_version=SDK_VERSION,
            question_uuid=question_uuid,
            parent_question_uuid=parent["question_uuid"] if parent else None,
            originator_question_uuid=parent["originator_question_uuid"] if parent else None,
            originator=parent["originator"] if parent else None,
            retry_count=retry_count,
        )
        self._publish(at, events.question(input_values=input_values), attributes, "")
        return attributes

    def respond(self, question: dict, at: float, event: dict) -> None:
        attributes = response_attributes(question, SDK_VERSION)
        self._publish(at, event, attributes, ordering_key(question["question_uuid"]))

    def _publish(self, at: float, event: dict, attributes: dict, key: str) -> None:
        data, wire = wire_message(event, attributes)
        wire["datetime"] = (START + datetime.timedelta(seconds=at)).replace(tzinfo=None).isoformat()
        message_id = str(next(_message_ids))
        self.published.append((data, wire, message_id, key))
        self.stored.append(event_row(data, wire, message_id, None, key))


def log_event(message: str) -> dict:
    return {
        "kind": "log_record",
        "log_record": {"msg": message, "levelname": "INFO", "levelno": 20, "name": "app", "args": None},
    }


def answered_tree() -> tuple[Tree, dict, dict]:
    """A question to SERVICE whose app asks CHILD: logs, a monitor message, heartbeats, both answered."""
    tree = Tree()
    root = tree.ask(0, input_values={"n": 3})
    tree.respond(root, 0.1, events.delivery_acknowledgement())
    tree.respond(root, 0.2, events.heartbeat())
    child = tree.ask(0.5, recipient=CHILD, parent=root, input_values={"m": 1})
    tree.respond(child, 0.6, events.delivery_acknowledgement())
    tree.respond(child, 0.7, log_event("child working"))
    tree.respond(child, 0.9, events.result(output_values={"m": 2}))
    tree.respond(root, 1.0, log_event("parent got the child's answer"))
    tree.respond(root, 1.1, events.monitor_message({"progress": 0.5}))
    tree.respond(root, 1.5, events.result(output_values={"sum": 5, "tags": {"_type": "set", "items": ["a"]}}))
    return tree, root, child


def stored_json(row: dict, column: str) -> Any:
    return json.loads(row[column])
