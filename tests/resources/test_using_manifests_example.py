"""The `examples/using-manifests` service: run locally, through the CLI, and on a remote (signed-URL) manifest."""

import json
import os
import subprocess
import sys
import uuid

import pytest

from octue_beam import Dataset, Manifest
from octue_beam.exceptions import UnsafePath
from octue_beam.storage import client

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "using-manifests")
EXAMPLE = os.path.abspath(EXAMPLE)
LOCAL_BUCKET = "octue-beam-local"  # the example's octue.yaml output_location bucket

service = pytest.importorskip("octue_beam.service.running", reason="octue_beam.service is not available yet")


@pytest.fixture
def local_bucket(storage_emulator):
    client.create_bucket(LOCAL_BUCKET)
    return LOCAL_BUCKET


@pytest.fixture
def input_manifest():
    with open(os.path.join(EXAMPLE, "data", "input", "manifest.json")) as f:
        return json.load(f)


def check_cleaned_output(output_manifest_primitive):
    output = Manifest.from_primitive(output_manifest_primitive, remote=True)
    dataset = output.get_dataset("cleaned_met_mast_data")
    assert dataset.path.startswith(f"gs://{LOCAL_BUCKET}/outputs/")
    cloud = Dataset(dataset.path)
    assert cloud.labels == {"met", "mast", "cleaned"}
    assert cloud.tags["location"] == 108346
    cleaned = cloud.files.one()
    assert cleaned.cloud_path.endswith("/cleaned_met_mast_data/cleaned.csv")
    assert cleaned.labels == {"timeseries"} and cleaned.tags == {"rows": 5, "time_window": 600}
    with cleaned.open() as f:
        lines = f.read().splitlines()
    assert lines[0] == "date,time_stamp,barometer_2,barometer_1,temp_2,temp_1,wind_vane_2,wind_vane_1,anemo_2,anemo_1"
    assert lines[1].startswith("8 December 2019,00:00:00,") and lines[-1].startswith("8 December 2019,00:40:00,")
    assert len(lines) == 6


def test_example_runs_locally(local_bucket, input_manifest, monkeypatch):
    from octue_beam.service.local import run_locally

    monkeypatch.chdir(EXAMPLE)
    analysis = run_locally(".", input_manifest=input_manifest)
    check_cleaned_output(json.loads(json.dumps(analysis.output_manifest.to_primitive())))


def test_example_through_the_cli(local_bucket, storage_emulator):
    result = subprocess.run(
        [sys.executable, "-m", "octue_beam", "ask-local", ".", "--input-manifest", "data/input/manifest.json"],
        cwd=EXAMPLE,
        env={**os.environ, **storage_emulator.environment()},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    check_cleaned_output(json.loads(result.stdout)["output_manifest"])


def test_example_answers_a_remote_signed_url_manifest(local_bucket, test_bucket, monkeypatch):
    """As a question from another service: the input dataset is in the cloud and sent as a signed URL."""
    from octue_beam.service.loading import load_service
    from octue_beam.service.running import answer

    cloud_path = f"gs://{test_bucket}/example-inputs/{uuid.uuid4().hex}/raw_met_mast_data"
    Dataset(os.path.join(EXAMPLE, "data", "input", "raw_met_mast_data")).upload(cloud_path)
    manifest = Manifest(datasets={"raw_met_mast_data": cloud_path})
    manifest.use_signed_urls_for_datasets()
    question_manifest = json.loads(manifest.serialise())
    assert question_manifest["datasets"]["raw_met_mast_data"].startswith("http")

    monkeypatch.chdir(EXAMPLE)
    analysis = answer(load_service("."), input_manifest=question_manifest)
    check_cleaned_output(json.loads(json.dumps(analysis.output_manifest.to_primitive())))

    with pytest.raises(UnsafePath):
        answer(load_service("."), input_manifest={"id": str(uuid.uuid4()), "datasets": {"raw_met_mast_data": EXAMPLE}})
