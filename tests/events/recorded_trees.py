"""Event-store rows of question trees for the timeline tests, built from the wire messages the protocol code makes.

Each event goes through `messaging.publishing.wire_message` (the bytes and string attributes a service publishes),
at a chosen time, and becomes the row the recorder stores (`events.rows.event_row`, `stored_rows`) and the row
readers get back (`events.rows.read_row`, `rows`).
"""

import datetime
import logging
from typing import Any

from octue_beam.events.rows import event_row, read_row
from octue_beam.messaging import events
from octue_beam.messaging.attributes import question_attributes, response_attributes
from octue_beam.messaging.publishing import ordering_key, wire_message

START = datetime.datetime(2025, 3, 4, 9, 30, 0, tzinfo=datetime.timezone.utc)
CLIENT = "octue-beam-tests/laptop:local"
SDK_VERSION = "0.1.0"

class Recording:
    """Rows of one question tree, each event published at `at` seconds after `START`."""

    def __init__(self) -> None:
        self.stored_rows: list[dict[str, Any]] = []

    @property
    def rows(self) -> list[dict[str, Any]]:
        """The rows as `read_events` returns them."""
        return [read_row(row) for row in self.stored_rows]

    def ask(self, at: float, recipient: str, parent: dict | None = None, input_values: Any = None, *,
            retry_count: int = 0, question_uuid: str | None = None) -> dict:
        """A question to `recipient` from the client (no `parent`) or from the service answering `parent` (typed
        attributes of a question); returns the question's typed attributes."""
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
        """A response event of the service asked `question`."""
        self._publish(at, event, response_attributes(question, SDK_VERSION), ordering_key(question["question_uuid"]))

    def acknowledge(self, question: dict, at: float, heartbeat_every: float | None = None,
                    until: float | None = None) -> None:
        """The delivery acknowledgement and a heartbeat at `at`, then a heartbeat every `heartbeat_every` until
        `until`, as the answering core sends them."""
        self.respond(question, at, events.delivery_acknowledgement())
        beat = at + 0.001
        while True:
            self.respond(question, beat, events.heartbeat())
            if heartbeat_every is None or until is None or beat + heartbeat_every >= until:
                break
            beat += heartbeat_every

    def log(self, question: dict, at: float, message: str, level: int = logging.INFO) -> None:
        record = logging.LogRecord("app", level, "app.py", 12, message, None, None, func="run")
        self.respond(question, at, events.log_record(record))

    def monitor(self, question: dict, at: float, data: Any) -> None:
        self.respond(question, at, events.monitor_message(data))

    def result(self, question: dict, at: float, output_values: Any) -> None:
        self.respond(question, at, events.result(output_values=output_values))

    def fail(self, question: dict, at: float, error: BaseException) -> None:
        self.respond(question, at, events.exception(error))

    def _publish(self, at: float, event: dict, attributes: dict, key: str) -> None:
        data, wire_attributes = wire_message(event, attributes)
        published = START + datetime.timedelta(seconds=at)
        wire_attributes["datetime"] = published.replace(tzinfo=None).isoformat()
        self.stored_rows.append(event_row(data, wire_attributes, str(len(self.stored_rows) + 1), published, key))


PARENT_SERVICE = "octue-beam-examples/parent-service:local"
WIND = "octue-beam-examples/wind-speed-service:local"
ELEVATION = "octue-beam-examples/elevation-service:local"
TERRAIN = "octue-beam-examples/terrain-service:2-1-0"


def parent_with_children(as_recording: bool = False) -> tuple[Any, dict[str, dict]]:
    """A parent asking two children in parallel; the elevation service asks a grandchild that fails, catches it and
    still answers; the parent logs, sends monitor messages and answers. Returns the rows (shuffled out of time
    order, as a store may give them), or the `Recording` itself, and the questions by name."""
    recording = Recording()
    root = recording.ask(0.0, PARENT_SERVICE, input_values={"locations": [[51.5, -0.1], [-33.9, 151.2]]})
    recording.acknowledge(root, 0.35, heartbeat_every=2.0, until=6.4)
    recording.log(root, 0.5, "Asking the children about 2 locations.")
    wind = recording.ask(0.6, WIND, root, {"locations": [[51.5, -0.1]]})
    elevation = recording.ask(0.62, ELEVATION, root, {"locations": [[51.5, -0.1]]})
    recording.acknowledge(wind, 0.9, heartbeat_every=2.0, until=3.1)
    recording.acknowledge(elevation, 1.0, heartbeat_every=2.0, until=5.2)
    recording.monitor(wind, 1.4, {"progress": 0.5})
    recording.log(elevation, 1.5, "Looking up the terrain.")
    terrain = recording.ask(1.6, TERRAIN, elevation, {"tile": "N51W001"})
    recording.acknowledge(terrain, 1.9)
    recording.log(terrain, 2.2, "Tile N51W001 is missing.", level=logging.WARNING)
    recording.fail(terrain, 2.6, FileNotFoundError("No tile N51W001 in gs://terrain/tiles."))
    recording.monitor(wind, 2.5, {"progress": 1.0})
    recording.result(wind, 3.1, {"wind_speeds": [7.2]})
    recording.log(elevation, 2.8, "Falling back to the coarse grid.", level=logging.WARNING)
    recording.result(elevation, 5.2, {"elevations": [11.0]})
    recording.monitor(root, 5.5, {"status": "combining"})
    recording.result(root, 6.4, {"wind_speeds": [7.2], "elevations": [11.0]})
    questions = {"root": root, "wind": wind, "elevation": elevation, "terrain": terrain}
    if as_recording:
        return recording, questions
    rows = recording.rows
    return rows[::2] + rows[1::2], questions


def wide_tree(questions: int, unanswered: int = 0) -> list[dict]:
    """A parent asking `questions - 1` children one after another, the last `unanswered` of them not answered."""
    recording = Recording()
    root = recording.ask(0.0, PARENT_SERVICE)
    recording.acknowledge(root, 0.1)
    for index in range(questions - 1):
        child = recording.ask(0.2 + index * 0.3, f"octue-beam-examples/worker-{index}:local", root, {"n": index})
        recording.acknowledge(child, 0.25 + index * 0.3)
        recording.log(child, 0.3 + index * 0.3, f"Working on {index}.")
        if index < questions - 1 - unanswered:
            recording.result(child, 0.45 + index * 0.3 + (index % 3) * 0.2, {"n": index})
    return recording.rows
