"""The in-flight journal (octue_beam/answering/journal.py): what a service process is answering, on disk, and the
`exception` answers given for it when the process died. The supervised `run` end to end is in
tests/pipeline/test_run_supervision.py."""

import json
import os
import subprocess
import sys
import time
import uuid

import pytest

from octue_beam import __version__
from octue_beam.answering import journal as journal_module
from octue_beam.answering.journal import (
    JOURNAL_VARIABLE,
    Journal,
    JournalingPublisher,
    claim_abandoned,
    journaled,
    run_folder,
)
from octue_beam.answering.stopped import answer_in_flight
from octue_beam.exceptions import ServiceStopped
from octue_beam.messaging import events
from octue_beam.messaging.attributes import decode_attributes, question_attributes, response_attributes
from octue_beam.messaging.publishing import MemoryPublisher
from octue_beam.messaging.pubsub import ensure_subscription, subscriber_client, subscription_path, topic_path
from octue_beam.processes import process_identity

SERVICE = "test-org/journaled:local"
PARENT = "test-org/parent:local"


def response(retry_count: int = 0) -> dict:
    question = question_attributes(
        sender=PARENT, recipient=SERVICE, sender_sdk_version="0.69.0", question_uuid=str(uuid.uuid4()),
        retry_count=retry_count,
    )
    return response_attributes(question, __version__)


def entries(folder) -> list[str]:
    return sorted(name for name in os.listdir(folder) if name.endswith(".json"))


def test_a_question_is_in_flight_from_its_acknowledgement_until_its_final_event_was_sent(tmp_path):
    journal = Journal(str(tmp_path), "projects/p/topics/t", "localhost:1")
    publisher = JournalingPublisher(MemoryPublisher(), journal)
    first, second = response(), response()
    publisher.publish(events.heartbeat(), first)  # nothing before the acknowledgement
    assert entries(tmp_path) == []
    publisher.publish(events.delivery_acknowledgement(), first)
    publisher.publish(events.delivery_acknowledgement(), second)
    publisher.publish(events.heartbeat(), first)
    in_flight = Journal.read(str(tmp_path))
    assert {e.attributes["question_uuid"] for e in in_flight} == {first["question_uuid"], second["question_uuid"]}
    assert {(entry.topic, entry.emulator_host) for entry in in_flight} == {("projects/p/topics/t", "localhost:1")}
    publisher.publish(events.result({"a": 1}), first)
    assert [entry.attributes["question_uuid"] for entry in Journal.read(str(tmp_path))] == [second["question_uuid"]]
    publisher.publish(events.exception(ValueError("no")), second)
    assert entries(tmp_path) == []


def test_a_final_event_pubsub_refuses_keeps_the_question_in_flight_until_its_replacement_is_sent(tmp_path):
    journal = Journal(str(tmp_path), "projects/p/topics/t")
    publisher = JournalingPublisher(MemoryPublisher(max_message_bytes=5000), journal)
    attributes = response()
    publisher.publish(events.delivery_acknowledgement(), attributes)
    refused = publisher.publish(events.result({"big": "x" * 10_000}), attributes)
    assert refused.exception() is not None
    assert len(entries(tmp_path)) == 1
    publisher.publish(events.exception(ValueError("The answer could not be sent")), attributes)
    assert entries(tmp_path) == []


def test_a_retry_is_its_own_entry_and_unreadable_entries_are_dropped(tmp_path):
    journal = Journal(str(tmp_path), "projects/p/topics/t")
    attributes = response()
    journal.started(attributes)
    journal.started({**attributes, "retry_count": 1})
    (tmp_path / "broken.json").write_text("{not json")
    assert len(Journal.read(str(tmp_path))) == 2
    assert not (tmp_path / "broken.json").exists()


def test_only_a_supervised_process_journals(tmp_path, monkeypatch):
    publisher = MemoryPublisher()
    monkeypatch.delenv(JOURNAL_VARIABLE, raising=False)
    assert journaled(publisher, "projects/p/topics/t") is publisher
    monkeypatch.setenv(JOURNAL_VARIABLE, str(tmp_path / "journal"))
    wrapped = journaled(publisher, "projects/p/topics/t")
    assert isinstance(wrapped, JournalingPublisher) and wrapped.publisher is publisher
    assert (tmp_path / "journal").is_dir()


def test_the_journals_of_killed_runs_are_claimed_once_and_those_of_running_ones_never(tmp_path, monkeypatch):
    monkeypatch.setenv(journal_module.STATE_VARIABLE, str(tmp_path))
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead, alive = f"{int(gone.stdout)}-1", process_identity(os.getppid())
    for identity in (dead, alive):
        os.makedirs(run_folder(identity))
    mine = process_identity(os.getpid())
    [claimed] = claim_abandoned(mine)
    assert os.path.basename(claimed) == f"run-{mine}.run-{dead}"
    assert claim_abandoned(mine) == [] and claim_abandoned(alive) == []
    assert os.path.isdir(run_folder(alive))


def test_questions_in_flight_are_answered_with_an_exception_on_their_topic(tmp_path, pubsub_emulator):
    project, topic_name = pubsub_emulator_project(), f"test.journal.{uuid.uuid4().hex[:8]}"
    subscription = f"test.journal.reader.{uuid.uuid4().hex[:8]}"
    ensure_subscription(project, subscription, topic_name)
    journal = Journal(str(tmp_path / "live"), topic_path(project, topic_name), pubsub_emulator.host_port)
    questions = [response(), response(retry_count=2)]
    for attributes in questions:
        journal.started(attributes)
    lost = Journal(str(tmp_path / "lost"), topic_path(project, topic_name), "localhost:1")  # its emulator is gone
    lost.started(response())

    error = ServiceStopped("The service stopped while answering this question.")
    assert answer_in_flight(journal.folder, error) == 2
    assert answer_in_flight(lost.folder, error) == 0
    assert entries(journal.folder) == [] and entries(lost.folder) == []

    received = {}
    deadline = time.monotonic() + 30
    while len(received) < 2 and time.monotonic() < deadline:
        response_ = subscriber_client().pull(subscription=subscription_path(project, subscription), max_messages=10,
                                             timeout=10)
        for message in response_.received_messages:
            attributes = decode_attributes(message.message.attributes)
            received[(attributes["question_uuid"], attributes["retry_count"])] = (
                json.loads(message.message.data), attributes
            )
    assert set(received) == {(attributes["question_uuid"], attributes["retry_count"]) for attributes in questions}
    for event, attributes in received.values():
        assert event["kind"] == "exception" and event["exception_type"] == "ServiceStopped"
        assert (attributes["sender"], attributes["recipient"], attributes["sender_type"]) == (SERVICE, PARENT, "CHILD")


def pubsub_emulator_project() -> str:
    return os.environ["GOOGLE_CLOUD_PROJECT"]


@pytest.fixture(autouse=True)
def _no_inherited_journal(monkeypatch):
    monkeypatch.delenv(JOURNAL_VARIABLE, raising=False)
