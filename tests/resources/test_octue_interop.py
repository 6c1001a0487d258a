"""Files, datasets and manifests written by Octue 0.69 are read here, and vice versa (live `octue` in its own venv).

Skipped without the second environment holding `octue==0.69.1` (tests/support/octue.py); failed instead in CI.
Octue runs in a subprocess against the same storage emulator.
"""

import datetime
import json
import os
import subprocess
import uuid

import pytest

from octue_beam import Datafile, Dataset, Manifest
from tests.support.octue import OCTUE_PYTHON, require_octue

SIDE = os.path.join(os.path.dirname(__file__), "octue_side.py")


@pytest.fixture(autouse=True)
def _octue():
    require_octue()


def octue(action, params, storage_emulator):
    result = subprocess.run(
        [OCTUE_PYTHON, SIDE, action, json.dumps(params)],
        env={**os.environ, **storage_emulator.environment()},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_what_octue_writes_is_read_here(storage_emulator, test_bucket, tmp_path):
    cloud_path = f"gs://{test_bucket}/interop/{uuid.uuid4().hex}/octue-made"
    report = octue("write", {"folder": str(tmp_path / "octue-made"), "cloud_path": cloud_path}, storage_emulator)

    local = Dataset(str(tmp_path / "octue-made"))
    cloud = Dataset(cloud_path)
    for dataset in (local, cloud):
        assert dataset.id == report["dataset_id"] and dataset.name == "octue-dataset"
        assert dataset.tags == {"location": 108346} and dataset.labels == {"met", "mast"}
        ordered = dataset.files.order_by("tags__sequence", check_start_value=0, check_constant_increment=1)
        assert [file.name for file in ordered] == ["octue_0.csv", "octue_1.csv"]
        for file in ordered:
            assert file.id == report["files"][file.name]["id"]
            assert file.tags == report["files"][file.name]["tags"] and file.labels == {"made-by-octue"}
        assert ordered[1].timestamp == datetime.datetime(2021, 1, 2, 3, 4, 6)

    manifest = Manifest.deserialise(report["manifest"], from_string=True)
    assert manifest.serialise() == report["manifest"]
    assert {file.tags["sequence"] for file in manifest.get_dataset("by_files").files} == {0, 1}


def test_what_octue_beam_writes_is_read_by_octue(storage_emulator, test_bucket, tmp_path):
    folder = tmp_path / "beam-made"
    for index in range(2):
        with Datafile(str(folder / f"beam_{index}.csv"), tags={"sequence": index}, labels=["made-by-beam"],
                      timestamp=datetime.datetime(2022, 2, 3, 4, 5, 6)).open("w") as f:
            f.write(f"{index}\n")
    dataset = Dataset(str(folder), name="beam-dataset", tags={"site": "x"}, labels=["wind"])
    dataset.update_local_metadata()
    cloud_path = f"gs://{test_bucket}/interop/{uuid.uuid4().hex}/beam-made"
    dataset.upload(cloud_path)
    manifest = Manifest(
        datasets={
            "by_path": cloud_path,
            "by_files": Dataset(path=cloud_path, files=[f.cloud_path for f in dataset.files], name="by-files"),
        }
    )
    params = {
        "folder": str(folder),
        "cloud_path": cloud_path,
        "signed_url": Dataset(cloud_path).generate_signed_url(),
        "manifest": manifest.serialise(),
    }
    report = octue("read", params, storage_emulator)

    files = {file.name: file for file in dataset.files}
    for where in ("local", "cloud"):
        seen = report[where]
        assert (seen["id"], seen["name"], seen["tags"], seen["labels"]) == (
            dataset.id,
            "beam-dataset",
            {"site": "x"},
            ["wind"],
        )
        for name, file in files.items():
            assert seen["files"][name] == {
                "id": file.id,
                "tags": dict(file.tags),
                "labels": ["made-by-beam"],
                "timestamp": "2022-02-03T04:05:06",
            }
    assert report["signed"]["id"] == dataset.id and report["signed"]["files"] == ["beam_0.csv", "beam_1.csv"]
    ours = json.loads(manifest.serialise())
    assert report["manifest"]["id"] == ours["id"]
    assert report["manifest"]["datasets"]["by_path"] == cloud_path
    # Octue rebuilds a cloud dataset object from its path and files only (it drops id/name/tags/labels).
    for key in ("path", "files"):
        assert report["manifest"]["datasets"]["by_files"][key] == ours["datasets"]["by_files"][key]
