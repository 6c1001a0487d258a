"""End to end on the Pub/Sub emulator: the event recorder (`record-events`, a subprocess stopped by PID) records a
question tree asked of real service pipelines (the asking-parent test service and its child, the behaviours
service), every event with the right columns, read back by each selector, printed by `events get` and replayed by
`events replay` with the original answer; and `run --record-events DIR` records what a local run answers."""

import dataclasses
import datetime
import json
import os
import re
import subprocess
import sys
import time
import uuid

import pyarrow.parquet as pq
import pytest

from octue_beam import ask, serialisation
from octue_beam.cli.answers import answer_json
from octue_beam.cli.record_events import RecorderProcess
from octue_beam.events.replay import EventReplayer
from octue_beam.events.rows import PARQUET_SCHEMA
from octue_beam.events.store import read_events
from octue_beam.messaging.publishing import ordering_key
from octue_beam.testing import LocalService
from tests.support.paths import FIXTURES, REPOSITORY

PROJECT = "octue-beam-local"  # the project the asking-parent's octue.yaml asks its child in
PARENT = "octue-beam-tests/asking-parent:local"
CHILD = "octue-beam-tests/behaviours:local"
WAIT_SECONDS = 60


@dataclasses.dataclass
class Asked:
    question_uuid: str
    answer: dict | None = None
    received: list = dataclasses.field(default_factory=list)  # the events the asker received, as `ask` records them
    monitor_messages: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Recording:
    store: str
    topic: str
    logs: Asked
    monitor: Asked
    crash: Asked
    recorder_output: list


def wait_for_outcomes(store, question_uuids):
    """Wait until the store holds the result or exception of each question (the recorder writes a window's file
    once the window has ended)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if os.path.isdir(store):
            done = {row["question_uuid"] for row in read_events(store, kinds=["result", "exception"])}
            if set(question_uuids) <= done:
                return
        time.sleep(0.2)
    raise AssertionError(f"The recorder did not record the outcomes of {question_uuids} in {store}.")


@pytest.fixture(scope="module")
def recording(pubsub_emulator, tmp_path_factory):
    saved = os.environ.get("GOOGLE_CLOUD_PROJECT")
    os.environ["GOOGLE_CLOUD_PROJECT"] = PROJECT
    topic = f"test.events.{uuid.uuid4().hex[:8]}"
    store = str(tmp_path_factory.mktemp("recorded") / "events")
    recorder = RecorderProcess(store, project=PROJECT, topic_name=topic, window_seconds=1)
    services = [
        # Heartbeats every 10 ms: the first comes one interval after the acknowledgement, so the parent's question,
        # which waits for its child's answer over Pub/Sub, sends some.
        LocalService(FIXTURES / name, "--heartbeat_interval", "0.01", topic_name=topic,
                     environment={"STORAGE_EMULATOR_HOST": None}, cwd=REPOSITORY)
        for name in ("behaviours", "asking-parent")
    ]
    try:
        recorder.launch()
        for service in services:
            service.launch()
        recorder.wait_until_ready()
        for service in services:
            service.wait_until_ready()

        logs = Asked(str(uuid.uuid4()))
        logs.answer, _ = ask(PARENT, {"child_action": "log"}, topic_name=topic, project=PROJECT, timeout=120,
                             question_uuid=logs.question_uuid, record_events=logs.received)
        monitor = Asked(str(uuid.uuid4()))
        monitor.answer, _ = ask(CHILD, {"action": "monitor"}, topic_name=topic, project=PROJECT, timeout=120,
                                question_uuid=monitor.question_uuid, record_events=monitor.received,
                                handle_monitor_message=monitor.monitor_messages.append)
        crash = Asked(str(uuid.uuid4()))
        with pytest.raises(ValueError, match="The app crashed on purpose"):
            ask(PARENT, {"child_action": "crash"}, topic_name=topic, project=PROJECT, timeout=120,
                question_uuid=crash.question_uuid, record_events=crash.received)

        wait_for_outcomes(store, [logs.question_uuid, monitor.question_uuid, crash.question_uuid])
        assert recorder.stop() == 0  # SIGTERM: it writes what it holds and leaves
        yield Recording(store, topic, logs, monitor, crash, recorder.output)
    finally:
        recorder.stop()
        for service in services:
            service.stop()
        if saved is None:
            os.environ.pop("GOOGLE_CLOUD_PROJECT", None)
        else:
            os.environ["GOOGLE_CLOUD_PROJECT"] = saved


def test_every_event_of_the_tree_is_recorded_with_the_columns_of_the_wire(recording):
    root = recording.logs.question_uuid
    rows = read_events(recording.store, originator_question_uuid=root)
    questions = [row for row in rows if row["kind"] == "question"]
    assert [(row["sender_type"], row["recipient"]) for row in questions] == [("PARENT", PARENT), ("PARENT", CHILD)]
    asker = questions[0]["sender"]
    child = questions[1]
    assert questions[0]["question_uuid"] == root and questions[0]["parent_question_uuid"] is None
    assert (child["sender"], child["parent"], child["originator"]) == (PARENT, PARENT, asker)
    assert (child["parent_question_uuid"], child["originator_question_uuid"]) == (root, root)
    assert child["other_attributes"]["forward_logs"] == "1" and child["other_attributes"]["retry_count"] == "0"
    assert questions[0]["event"]["input_values"] == {"child_action": "log"}

    for question in questions:
        responses = [row for row in rows if row["question_uuid"] == question["question_uuid"] and row is not question]
        kinds = [row["kind"] for row in responses]
        assert kinds[0] == "delivery_acknowledgement" and kinds[-1] == "result", kinds
        assert "log_record" in kinds
        if question["question_uuid"] == root:  # it lasts its child's round trip: many heartbeat intervals
            assert "heartbeat" in kinds
        for row in responses:
            assert (row["sender"], row["sender_type"], row["recipient"]) == (
                question["recipient"], "CHILD", question["sender"]
            )
            assert row["originator_question_uuid"] == root and row["backend"] == "GoogleCloudPubSub"
            assert row["backend_metadata"]["ordering_key"] == ordering_key(question["question_uuid"])
    child_logs = [row["event"]["log_record"]["msg"] for row in rows
                  if row["kind"] == "log_record" and row["question_uuid"] == child["question_uuid"]]
    assert [f"Log line {number} of question {child['question_uuid']}." for number in range(3)] == [
        message for message in child_logs if message.startswith("Log line")
    ]
    assert len({row["backend_metadata"]["message_id"] for row in rows}) == len(rows)


def test_the_rows_are_the_events_the_asker_received(recording):
    """What the recorder wrote is what went over the wire: each event the asker received is a row with its uuid,
    kind, body, time and attributes."""
    received = recording.logs.received
    rows = {row["uuid"]: row for row in read_events(recording.store, question_uuid=recording.logs.question_uuid)}
    assert {item["attributes"]["uuid"] for item in received} <= set(rows)
    for item in received:
        row, attributes = rows[item["attributes"]["uuid"]], item["attributes"]
        assert row["event"] == item["event"]
        assert row["datetime"] == datetime.datetime.fromisoformat(attributes["datetime"]).replace(
            tzinfo=datetime.timezone.utc
        )
        for column in ("sender", "recipient", "sender_type", "sender_sdk_version", "parent", "originator",
                       "question_uuid", "originator_question_uuid"):
            assert row[column] == attributes[column], column
        assert row["other_attributes"] == {"retry_count": str(attributes["retry_count"])}


def test_each_selector_reads_the_tree_back(recording):
    root = recording.logs.question_uuid
    tree = read_events(recording.store, originator_question_uuid=root)
    by_question = read_events(recording.store, question_uuid=root)
    children = read_events(recording.store, parent_question_uuid=root)
    assert {row["question_uuid"] for row in by_question} == {root}
    assert {row["question_uuid"] for row in children} == {row["question_uuid"] for row in tree} - {root}
    assert sorted(row["uuid"] for row in by_question + children) == sorted(row["uuid"] for row in tree)
    results = read_events(recording.store, originator_question_uuid=root, kinds=["result"])
    assert len(results) == 2
    quiet = read_events(recording.store, originator_question_uuid=root, exclude_kinds=["heartbeat", "log_record"])
    assert {row["kind"] for row in quiet} == {"question", "delivery_acknowledgement", "result"}
    assert read_events(recording.store, originator_question_uuid=root, limit=1) == tree[-1:]
    everything = read_events(recording.store)
    assert [row["datetime"] for row in everything] == sorted(row["datetime"] for row in everything)
    assert {recording.logs.question_uuid, recording.monitor.question_uuid, recording.crash.question_uuid} <= {
        row["originator_question_uuid"] for row in everything
    }


def test_the_store_is_parquet_files_partitioned_by_date(recording):
    files = [os.path.join(root, name) for root, _, names in os.walk(recording.store) for name in names]
    assert files
    for path in files:
        relative = os.path.relpath(path, recording.store)
        assert re.fullmatch(r"date=\d{4}-\d{2}-\d{2}/events-\d{8}T\d{6}Z-\d{8}T\d{6}Z-[0-9a-f]{8}-\d+\.parquet",
                            relative), relative
        assert pq.read_schema(path).equals(PARQUET_SCHEMA, check_metadata=False)
    assert "The event recorder stopped; it wrote" in "\n".join(recording.recorder_output)


def test_monitor_messages_are_recorded_and_replayed_as_they_were_received(recording):
    rows = read_events(recording.store, question_uuid=recording.monitor.question_uuid, kinds=["monitor_message"])
    assert [row["event"]["data"] for row in rows] == recording.monitor.monitor_messages == [
        {"progress": 0.25}, {"progress": 0.5}, {"progress": 1.0}
    ]
    replayed = []
    answer = EventReplayer(handle_monitor_message=replayed.append).play(
        read_events(recording.store, question_uuid=recording.monitor.question_uuid)
    )
    assert replayed == recording.monitor.monitor_messages
    assert answer == recording.monitor.answer


def octue_beam_command(*arguments, importtime=False):
    command = [sys.executable, *(["-X", "importtime"] if importtime else []), "-m", "octue_beam", *arguments]
    return subprocess.run(command, cwd=REPOSITORY, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "NO_COLOR": "1"})


def test_events_get_prints_the_tree_as_json_lines_without_importing_beam(recording):
    root = recording.logs.question_uuid
    completed = octue_beam_command("events", "get", "--originator-question-uuid", root, "--store", recording.store,
                                   importtime=True)
    assert completed.returncode == 0, completed.stderr[-2000:]
    printed = [json.loads(line) for line in completed.stdout.splitlines()]
    rows = read_events(recording.store, originator_question_uuid=root)
    assert [line["uuid"] for line in printed] == [row["uuid"] for row in rows]
    assert printed[0]["event"] == rows[0]["event"] and printed[0]["datetime"] == rows[0]["datetime"].isoformat()
    imported = [line.rsplit("|", 1)[1].strip() for line in completed.stderr.splitlines()
                if line.startswith("import time:")]
    assert "pyarrow.dataset" in imported and not [name for name in imported if name.startswith("apache_beam")]


def test_events_replay_prints_the_original_answer_after_the_logs(recording):
    root = recording.logs.question_uuid
    completed = octue_beam_command("events", "replay", "--question-uuid", root, "--store", recording.store)
    assert completed.returncode == 0, completed.stderr[-2000:]
    original = answer_json(root, recording.logs.answer["output_values"], recording.logs.answer["output_manifest"])
    assert json.loads(completed.stdout) == json.loads(serialisation.dumps(original))
    assert json.loads(completed.stdout)["output_values"] == {"child_output": {"action": "log", "value": None}}
    # The child's logs, forwarded through the parent, shown with both services' prefixes as `ask` shows them live.
    assert re.search(rf"\[{re.escape(PARENT)} \| {root}\] \[{re.escape(CHILD)} \| [0-9a-f-]{{36}}\] Log line 2 of "
                     "question", completed.stderr), completed.stderr[-3000:]


def test_events_replay_of_a_failed_question_reports_the_error_as_ask_does(recording):
    crash = recording.crash.question_uuid
    completed = octue_beam_command("events", "replay", "--question-uuid", crash, "--store", recording.store)
    assert completed.returncode == 1
    assert completed.stdout == ""
    assert (f"octue-beam events: {PARENT} failed to answer question {crash} with ValueError: The app crashed "
            "on purpose") in completed.stderr
    assert "Traceback (most recent call last)" not in completed.stderr  # the service's traceback, not the command's


def test_run_record_events_records_what_the_run_answers(pubsub_emulator, tmp_path):
    store = tmp_path / "events"
    completed = subprocess.run(
        [sys.executable, "-m", "octue_beam", "run", str(FIXTURES / "behaviours"), "--ask", '{"action": "monitor"}',
         "--record-events", str(store)],
        cwd=tmp_path, capture_output=True, text=True, timeout=180,
        env={**os.environ, "TWINED_SERVICES_TOPIC_NAME": f"test.events.run.{uuid.uuid4().hex[:8]}",
             "STORAGE_EMULATOR_HOST": ""},
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    answer = json.loads(completed.stdout)
    pid = int(re.search(r"event recorder: every question and event to .* \(process (\d+)\)", completed.stderr)[1])
    rows = read_events(str(store), question_uuid=answer["question_uuid"])
    assert [row["kind"] for row in rows if row["kind"] != "heartbeat"] == [
        "question", "delivery_acknowledgement", "monitor_message", "monitor_message", "monitor_message", "result"
    ]
    assert rows[-1]["event"]["output_values"] == answer["output_values"]
    assert "The event recorder stopped; it wrote" in completed.stderr
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # stopped with everything else
