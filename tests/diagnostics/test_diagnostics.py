"""Diagnostics on the storage emulator: saved by a crashing question, downloaded with the CLI, loaded as a fixture and
replayed with `run_locally` + emulated children to reproduce the crash."""

import logging
import os
import subprocess
import sys
import uuid

import pytest

from octue_beam import Dataset, Manifest, run_locally
from octue_beam.messaging.attributes import SAVE_DIAGNOSTICS_OFF, SAVE_DIAGNOSTICS_ON
from octue_beam.service.loading import load_service
from octue_beam.service.running import answer
from octue_beam.storage import client
from octue_beam.testing import ChildEmulator, emulated_children, load_test_fixture_from_diagnostics
from tests.support.service_dirs import write_service

REPOSITORY = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CHILD_SRUID = "my-org/calibration:1.2.0"

TWINE = {
    "children": [{"key": "calibration", "purpose": "gives the calibration factor"}],
    "configuration_values_schema": {"type": "object", "properties": {"threshold": {"type": "number"}}},
    "input_values_schema": {"type": "object", "required": ["site"], "properties": {"site": {"type": "string"}}},
    "input_manifest": {"datasets": {"met": {"purpose": "met mast readings"}}},
    "output_values_schema": {"type": "object"},
}

APP = """
import logging

logger = logging.getLogger("met_checker")


def run(analysis):
    logger.info("Checking site %s.", analysis.input_values["site"])
    answer, _ = analysis.children["calibration"].ask(input_values={"site": analysis.input_values["site"]}, timeout=30)
    factor = answer["output_values"]["factor"]
    readings = analysis.input_manifest.get_dataset("met").files.one()
    with readings.open() as f:
        speeds = [float(line) * factor for line in f.read().split()[1:]]
    too_high = [speed for speed in speeds if speed > analysis.configuration_values["threshold"]]
    if too_high:
        raise ValueError(f"Wind speeds above the threshold at {analysis.input_values['site']}: {too_high}")
    analysis.output_values = {"maximum": max(speeds)}
"""


@pytest.fixture
def diagnostics_path(test_bucket):
    return f"gs://{test_bucket}/diagnostics-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def service_dir(tmp_path, diagnostics_path):
    return write_service(
        tmp_path / "met-checker",
        app=APP,
        twine=TWINE,
        service={
            "name": "met-checker",
            "diagnostics_cloud_path": diagnostics_path,
            "configuration_values": {"threshold": 20},
            "children": [
                {"key": "calibration", "id": CHILD_SRUID, "backend": {"name": "GCPPubSubBackend", "project_id": "p"}}
            ],
        },
    )


@pytest.fixture
def cloud_dataset(tmp_path, test_bucket):
    """A dataset with metadata, in the emulator bucket."""
    folder = tmp_path / "met"
    folder.mkdir()
    (folder / "speeds.txt").write_text("speed\n3.5\n11.0\n7.25\n")
    dataset = Dataset(path=str(folder), name="met", tags={"mast": 108346}, labels=["met", "raw"])
    datafile = dataset.files.one()
    datafile.tags = {"height": 80}
    datafile.labels = {"anemometer"}
    return dataset.upload(f"gs://{test_bucket}/inputs-{uuid.uuid4().hex[:8]}/met")


def calibration(factor: float) -> ChildEmulator:
    attributes = {"sender": CHILD_SRUID, "question_uuid": str(uuid.uuid4()), "sender_type": "CHILD"}
    return ChildEmulator(
        [
            {"event": {"kind": "delivery_acknowledgement"}, "attributes": attributes},
            {"event": {"kind": "monitor_message", "data": {"status": "calibrating"}}, "attributes": attributes},
            {"event": {"kind": "result", "output_values": {"factor": factor}}, "attributes": attributes},
        ]
    )


def listing(prefix: str) -> list[str]:
    return sorted(info["cloud_path"][len(prefix) + 1 :] for info in client.list_objects(prefix))


def test_a_crash_is_saved_downloaded_loaded_as_a_fixture_and_replayed(
    service_dir, diagnostics_path, cloud_dataset, tmp_path, caplog
):
    question_uuid = str(uuid.uuid4())
    manifest = {"id": str(uuid.uuid4()), "name": "met inputs", "datasets": {"met": cloud_dataset}}

    with caplog.at_level(logging.INFO), emulated_children({"calibration": calibration(2.0)}):
        with pytest.raises(ValueError, match="above the threshold") as crashed:
            run_locally(
                service_dir, input_values={"site": "north"}, input_manifest=manifest, question_uuid=question_uuid
            )

    saved = f"{diagnostics_path}/{question_uuid}"
    files = listing(saved)
    for name in ("configuration_values.json", "configuration_manifest.json", "input_values.json", "input_manifest.json",
                 "questions.json", "logs.json", "input_manifest_datasets/met/speeds.txt"):
        assert name in files
    questions = client.download_json(f"{saved}/questions.json")
    [question] = questions
    assert question["id"] == CHILD_SRUID and question["key"] == "calibration"
    assert question["input_values"] == {"site": "north"} and question["timeout"] == 30
    assert question["parent_question_uuid"] == question_uuid
    assert [event["event"]["kind"] for event in question["events"]] == [
        "delivery_acknowledgement",
        "monitor_message",
        "result",
    ]
    logs = client.download_json(f"{saved}/logs.json")
    assert any(record["msg"] == "Checking site north." and record["name"] == "met_checker" for record in logs)
    # the saved manifest points at the copy of the dataset saved beside it, not at the original
    saved_manifest = client.download_json(f"{saved}/input_manifest.json")
    assert saved_manifest["datasets"]["met"] == f"{saved}/input_manifest_datasets/met"

    # Download with the CLI (a separate process, like a user would).
    download_to = tmp_path / "downloaded"
    result = subprocess.run(
        [
            sys.executable, "-m", "octue_beam", "diagnostics", saved,
            "--local-path", str(download_to), "--download-datasets",
        ],
        capture_output=True, text=True, cwd=REPOSITORY, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    folder = download_to / question_uuid
    assert result.stdout.strip() == str(folder)
    assert (folder / "input_manifest_datasets" / "met" / "speeds.txt").read_text() == "speed\n3.5\n11.0\n7.25\n"

    # The original input data can go: the fixture uses the downloaded copies.
    for info in list(client.list_objects(cloud_dataset)):
        client.delete(info["cloud_path"])

    configuration_values, configuration_manifest, input_values, input_manifest, children = (
        load_test_fixture_from_diagnostics(folder)
    )
    assert configuration_values == {"threshold": 20}
    assert configuration_manifest is None
    assert input_values == {"site": "north"}
    assert isinstance(input_manifest, Manifest) and input_manifest.name == "met inputs"
    dataset = input_manifest.get_dataset("met")
    assert dataset.path == str(folder / "input_manifest_datasets" / "met")
    assert dataset.tags == {"mast": 108346} and dataset.labels == {"met", "raw"}
    datafile = dataset.files.one()
    assert datafile.tags == {"height": 80} and datafile.labels == {"anemometer"}
    assert [child.id for child in children] == [CHILD_SRUID]

    # Replaying reproduces the crash, with no Pub/Sub and no access to the original data.
    monitor_messages = []
    with emulated_children(list(children)), pytest.raises(ValueError) as replayed:
        run_locally(service_dir, input_values=input_values, input_manifest=input_manifest,
                    handle_monitor_message=monitor_messages.append)
    assert str(replayed.value) == str(crashed.value)
    assert monitor_messages == [{"status": "calibrating"}]


def test_fixture_without_downloaded_datasets_reads_the_saved_copies_in_the_cloud(
    service_dir, diagnostics_path, cloud_dataset, tmp_path
):
    question_uuid = str(uuid.uuid4())
    manifest = {"id": str(uuid.uuid4()), "name": None, "datasets": {"met": cloud_dataset}}
    with emulated_children({"calibration": calibration(1.0)}):  # a successful question, saved because asked to
        answer(load_service(service_dir), question_uuid=question_uuid, input_values={"site": "south"},
               input_manifest=manifest, save_diagnostics=SAVE_DIAGNOSTICS_ON)
    from octue_beam.cli import main

    assert main(["diagnostics", f"{diagnostics_path}/{question_uuid}", "--local-path", str(tmp_path)]) == 0
    assert not (tmp_path / question_uuid / "input_manifest_datasets").exists()
    _, _, input_values, input_manifest, children = load_test_fixture_from_diagnostics(tmp_path / question_uuid)
    dataset = input_manifest.get_dataset("met")
    assert dataset.path == f"{diagnostics_path}/{question_uuid}/input_manifest_datasets/met"
    with emulated_children(list(children)):
        analysis = run_locally(service_dir, input_values=input_values, input_manifest=input_manifest)
    assert analysis.output_values == {"maximum": 11.0}


def test_invalid_inputs_count_as_a_crash(service_dir, diagnostics_path):
    question_uuid = str(uuid.uuid4())
    with pytest.raises(Exception, match="site"):
        run_locally(service_dir, input_values={"place": "north"}, question_uuid=question_uuid)
    saved = f"{diagnostics_path}/{question_uuid}"
    assert client.download_json(f"{saved}/input_values.json") == {"place": "north"}
    assert client.download_json(f"{saved}/questions.json") == []


def test_modes_off_and_on(service_dir, diagnostics_path, cloud_dataset):
    service = load_service(service_dir)
    manifest = {"id": str(uuid.uuid4()), "name": None, "datasets": {"met": cloud_dataset}}

    crashing = str(uuid.uuid4())
    with emulated_children({"calibration": calibration(5.0)}), pytest.raises(ValueError):
        answer(
            service,
            question_uuid=crashing,
            input_values={"site": "x"},
            input_manifest=manifest,
            save_diagnostics=SAVE_DIAGNOSTICS_OFF,
        )
    assert listing(f"{diagnostics_path}/{crashing}") == []

    succeeding = str(uuid.uuid4())
    with emulated_children({"calibration": calibration(1.0)}):
        # ON_CRASH by default
        answer(service, question_uuid=succeeding, input_values={"site": "x"}, input_manifest=manifest)
    assert listing(f"{diagnostics_path}/{succeeding}") == []

    with emulated_children({"calibration": calibration(1.0)}):
        answer(
            service,
            question_uuid=succeeding,
            input_values={"site": "x"},
            input_manifest=manifest,
            save_diagnostics=SAVE_DIAGNOSTICS_ON,
        )
    assert "questions.json" in listing(f"{diagnostics_path}/{succeeding}")

    with pytest.raises(ValueError, match="save_diagnostics"):
        answer(service, input_values={"site": "x"}, save_diagnostics="SOMETIMES")


def test_upload_errors_are_logged_and_never_replace_the_original_error(tmp_path, test_bucket, caplog):
    service_dir = write_service(
        tmp_path / "s",
        app="def run(analysis):\n    raise ZeroDivisionError('the real problem')\n",
        service={"diagnostics_cloud_path": "gs://no-such-bucket-here/diagnostics"},
    )
    with caplog.at_level(logging.ERROR), pytest.raises(ZeroDivisionError, match="the real problem"):
        run_locally(service_dir, input_values={})
    assert "Could not save" in caplog.text and "no-such-bucket-here" in caplog.text


def test_the_diagnostics_command_explains_a_wrong_path(tmp_path, storage_emulator, capsys):
    from octue_beam.cli import main

    assert main(["diagnostics", "not/a/cloud/path"]) == 1
    assert "gs://" in capsys.readouterr().err
    assert (
        main(["diagnostics", f"gs://octue-beam-test-bucket/nothing-{uuid.uuid4().hex}", "--local-path", str(tmp_path)])
        == 1
    )
    assert "No diagnostics were found" in capsys.readouterr().err


def test_the_configuration_manifest_round_trips_with_its_datasets(tmp_path, diagnostics_path):
    lookup = tmp_path / "lookup"
    lookup.mkdir()
    (lookup / "table.csv").write_text("a,1\nb,2\n")
    service_dir = write_service(
        tmp_path / "configured",
        app=(
            "def run(analysis):\n"
            "    analysis.output_values = {'files': len(analysis.configuration_manifest.get_dataset('lookup').files)}\n"
        ),
        twine={
            "configuration_manifest": {"datasets": {"lookup": {"purpose": "a lookup table"}}},
            "input_values_schema": {"type": "object"},
            "output_values_schema": {"type": "object"},
        },
        service={
            "diagnostics_cloud_path": diagnostics_path,
            "configuration_manifest": {"id": str(uuid.uuid4()), "name": "config", "datasets": {"lookup": str(lookup)}},
        },
    )
    question_uuid = str(uuid.uuid4())
    service = load_service(service_dir)
    answer(service, question_uuid=question_uuid, input_values={"n": 1}, save_diagnostics=SAVE_DIAGNOSTICS_ON)
    saved = f"{diagnostics_path}/{question_uuid}"
    assert "configuration_manifest_datasets/lookup/table.csv" in listing(saved)
    assert service.configuration_manifest.get_dataset("lookup").path == str(lookup)  # the service's own is unchanged

    from octue_beam.service.diagnostics import download_diagnostics

    folder = download_diagnostics(saved, tmp_path / "fixtures", download_datasets=True)
    _, configuration_manifest, input_values, input_manifest, children = load_test_fixture_from_diagnostics(folder)
    assert input_values == {"n": 1} and input_manifest is None and children == ()
    dataset = configuration_manifest.get_dataset("lookup")
    assert dataset.path == os.path.join(folder, "configuration_manifest_datasets", "lookup")
    with dataset.files.one().open() as f:
        assert f.read() == "a,1\nb,2\n"
