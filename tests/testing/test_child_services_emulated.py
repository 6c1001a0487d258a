"""The child-services example's parent runs with emulated children: no Pub/Sub, no child services running."""

import json
import logging
from pathlib import Path

import pytest

from octue_beam import run_locally
from octue_beam.testing import ChildEmulator, emulated_children

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "child-services"
PARENT = EXAMPLE / "parent-service"
INPUT_VALUES = json.loads((PARENT / "data" / "input_values.json").read_text())


def recorded(sender: str, output_values, logs=("Working.",)) -> list[dict]:
    attributes = {"sender": sender, "question_uuid": "8f5e7cb5-3e8c-4b8e-9a53-0a1b2c3d4e5f", "sender_type": "CHILD"}
    events = [{"event": {"kind": "delivery_acknowledgement"}, "attributes": attributes}]
    events += [
        {
            "event": {
                "kind": "log_record",
                "log_record": {"msg": message, "levelname": "INFO", "levelno": 20, "name": "app"},
            },
            "attributes": attributes,
        }
        for message in logs
    ]
    events.append({"event": {"kind": "result", "output_values": output_values}, "attributes": attributes})
    return events


def test_parent_service_answers_with_emulated_children_by_key(caplog):
    wind_speed = ChildEmulator(recorded("octue-beam-examples/wind-speed-service:local", [10.0, 9.5]))
    elevation = ChildEmulator(recorded("octue-beam-examples/elevation-service:local", [1500.0, 1552.3]))

    with (
        caplog.at_level(logging.INFO),
        emulated_children({"wind_speed": wind_speed, "elevation": elevation}) as emulation,
    ):
        analysis = run_locally(PARENT, input_values=INPUT_VALUES)

    assert analysis.output_values == {"wind_speeds": [10.0, 9.5], "elevations": [1500.0, 1552.3]}
    assert sorted(key for key, _ in emulation.asked) == ["elevation", "wind_speed"]
    # each child was asked the parent's locations
    assert wind_speed.questions[0]["input_values"] == INPUT_VALUES
    assert elevation.questions[0]["input_values"] == INPUT_VALUES
    # the children's logs were re-emitted like a live child's
    assert any("[octue-beam-examples/wind-speed-service:local |" in record.getMessage() for record in caplog.records)


def test_parent_service_answers_with_emulated_children_from_events_in_ask_order():
    # Lists of recorded events work where emulators are expected; in ask order one per question.
    with emulated_children([recorded("a/child:1", [1.0, 2.0]), recorded("a/child:1", [1.0, 2.0])]):
        analysis = run_locally(PARENT, input_values=INPUT_VALUES)
    assert analysis.output_values == {"wind_speeds": [1.0, 2.0], "elevations": [1.0, 2.0]}


def test_too_few_emulators_is_a_clear_error():
    with emulated_children([recorded("a/child:1", [1.0, 2.0])]), pytest.raises(RuntimeError, match="only 1 emulator"):
        run_locally(PARENT, input_values=INPUT_VALUES)
