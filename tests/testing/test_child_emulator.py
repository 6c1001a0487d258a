"""ChildEmulator replays recorded events like a live child: results, exceptions, logs and monitor messages."""

import logging

import pytest

from octue_beam.exceptions import InvalidValuesContents, RemoteException
from octue_beam.testing import ChildEmulator

SENDER = "my-org/my-child:1.0.0"
QUESTION = "0b3a9c56-3f2b-4d7e-8a1c-5e6f7a8b9c0d"
ATTRIBUTES = {"sender": SENDER, "question_uuid": QUESTION, "sender_type": "CHILD", "retry_count": 0}


def item(event: dict) -> dict:
    return {"event": event, "attributes": ATTRIBUTES}


def test_result_is_the_answer_and_question_uuid_is_the_recorded_one():
    emulator = ChildEmulator(
        [item({"kind": "delivery_acknowledgement"}), item({"kind": "result", "output_values": {"x": [1, 2]}})]
    )
    answer, question_uuid = emulator.ask(input_values={"anything": "is ignored"}, timeout=3)
    assert answer == {"output_values": {"x": [1, 2]}, "output_manifest": None}
    assert question_uuid == QUESTION
    assert emulator.id == SENDER
    assert emulator.questions[0]["input_values"] == {"anything": "is ignored"}


def test_falsy_outputs_and_tagged_types_are_kept():
    emulator = ChildEmulator(
        [item({"kind": "result", "output_values": {"n": 0, "labels": {"_type": "set", "items": ["a"]}}})]
    )
    answer, _ = emulator.ask()
    assert answer["output_values"] == {"n": 0, "labels": {"a"}}


def test_output_manifest_is_a_manifest(tmp_path):
    (tmp_path / "data.csv").write_text("1,2\n")
    manifest = {"id": "4f2b8c0e-1a2b-4c3d-9e8f-0a1b2c3d4e5f", "name": None, "datasets": {"out": str(tmp_path)}}
    answer, _ = ChildEmulator([item({"kind": "result", "output_manifest": manifest})]).ask()
    dataset = answer["output_manifest"].get_dataset("out")
    assert [file.name for file in dataset.files] == ["data.csv"]


@pytest.mark.parametrize(
    "exception_type, expected",
    [
        ("ValueError", ValueError),
        ("InvalidValuesContents", InvalidValuesContents),
        ("SomeCustomError", RemoteException),
    ],
)
def test_exception_event_raises_the_remote_exception(exception_type, expected):
    emulator = ChildEmulator(
        [
            item({"kind": "delivery_acknowledgement"}),
            item({"kind": "exception", "exception_type": exception_type, "exception_message": "it broke",
                  "exception_traceback": ['  File "app.py", line 3, in run\n    raise Error\n']}),
            item({"kind": "result", "output_values": 1}),  # after the end of the question: ignored
        ]
    )
    with pytest.raises(expected, match="it broke") as raised:
        emulator.ask()
    assert type(raised.value).__name__ == exception_type
    assert "app.py" in str(raised.value) and raised.value.sender == SENDER


def test_log_records_are_re_emitted_with_the_child_prefix(caplog):
    record = {"msg": "Computing 3 things.", "levelname": "WARNING", "levelno": 30, "name": "child_app", "lineno": 7}
    emulator = ChildEmulator(
        [item({"kind": "log_record", "log_record": record}), item({"kind": "result", "output_values": 1})]
    )
    with caplog.at_level(logging.INFO):
        emulator.ask()
    [emitted] = [r for r in caplog.records if r.name == "child_app"]
    assert emitted.levelno == logging.WARNING
    assert emitted.getMessage().endswith("Computing 3 things.")
    assert f"[{SENDER} | {QUESTION}]" in emitted.getMessage()


def test_monitor_messages_go_to_the_handler_and_events_are_recorded():
    events = [item({"kind": "monitor_message", "data": {"progress": p}}) for p in (0.5, 1.0)]
    events.append(item({"kind": "result", "output_values": "done"}))
    received, recorded = [], []
    emulator = ChildEmulator(events)
    answer, _ = emulator.ask(handle_monitor_message=received.append, record_events=recorded)
    assert received == [{"progress": 0.5}, {"progress": 1.0}]
    assert answer["output_values"] == "done"
    assert recorded == events and emulator.received_events == events


def test_no_result_gives_none_with_a_warning(caplog):
    emulator = ChildEmulator([item({"kind": "heartbeat"})])
    with caplog.at_level(logging.WARNING):
        assert emulator.ask() == (None, QUESTION)
    assert "no result" in caplog.text


def test_asynchronous_replays_nothing():
    emulator = ChildEmulator([item({"kind": "exception", "exception_type": "ValueError", "exception_message": "x"})])
    assert emulator.ask(asynchronous=True) == (None, QUESTION)


def test_malformed_events_are_refused_with_their_position():
    with pytest.raises(ValueError, match="Event 1"):
        ChildEmulator([item({"kind": "heartbeat"}), {"kind": "result"}])


def test_replays_events_recorded_by_ask_from_a_live_child(pubsub_emulator):
    """Events recorded from a real question over Pub/Sub replay to the same answer."""
    import os

    from octue_beam import ask
    from octue_beam.messaging import events as builders
    from tests.asking.responder import Responder

    def script(event, attributes, send):
        send(builders.delivery_acknowledgement())
        send(builders.monitor_message({"step": 1}))
        send(builders.result(output_values={"doubled": event["input_values"] * 2}))

    project = os.environ["GOOGLE_CLOUD_PROJECT"]
    recorded, monitored = [], []
    with Responder(project, script) as child:
        live_answer, question_uuid = ask(child.sruid, 21, project=project, record_events=recorded, timeout=60,
                                         handle_monitor_message=monitored.append)
    replayed = []
    answer, replayed_uuid = ChildEmulator(recorded).ask(handle_monitor_message=replayed.append)
    assert answer == live_answer == {"output_values": {"doubled": 42}, "output_manifest": None}
    assert replayed_uuid == question_uuid
    assert replayed == monitored == [{"step": 1}]
