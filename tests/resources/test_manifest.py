"""Manifest: Octue 0.69 JSON shapes, cloud round trips, signed URLs, prepare, download."""

import json
import os
import uuid

import pytest
import requests

from octue_beam import Dataset, Manifest
from octue_beam.exceptions import InvalidInputException, InvalidManifestType
from octue_beam.resources import cache

# The result-event output manifest shape from OCTUE_REFERENCE.md §4, as Octue's `serialise()` writes it
# (keys sorted, indent 4). Deserialising and re-serialising must not change a byte.
OCTUE_RESULT_MANIFEST = """{
    "datasets": {
        "example_dataset": {
            "files": [
                "gs://octue-sdk-python-test-bucket/example-service/2b0c7b53/example_dataset/output.dat"
            ],
            "id": "8f2e9c7a-1b3d-4c5e-9f70-6a1b2c3d4e5f",
            "labels": [],
            "name": "divergent-strange-gharial-of-pizza",
            "path": "https://storage.googleapis.com/octue-sdk-python-test-bucket/example-service/2b0c7b53/example_dataset/.signed_metadata_files/divergent-strange-gharial-of-pizza?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=x%40y.iam.gserviceaccount.com%2F20240101%2Fauto%2Fstorage%2Fgoog4_request&X-Goog-Date=20240101T000000Z&X-Goog-Expires=604800&X-Goog-SignedHeaders=host&X-Goog-Signature=abc123",
            "tags": {}
        },
        "more_data": {
            "files": [
                "gs://bucket/prefix/a.csv",
                "gs://bucket/prefix/sub/b.csv"
            ],
            "id": "0a6f3cbb-8d1c-4b59-9f0e-2f3e4d5c6b7a",
            "labels": [
                "mast",
                "met"
            ],
            "name": "met-data",
            "path": "gs://bucket/prefix",
            "tags": {
                "location": 108346,
                "nested": {
                    "a": [
                        1,
                        2
                    ]
                }
            }
        }
    },
    "id": "3143c968-4017-4321-91d4-f885a8d258e1",
    "name": null
}"""


def test_octue_manifest_deserialises_and_reserialises_unchanged():
    manifest = Manifest.deserialise(OCTUE_RESULT_MANIFEST, from_string=True)
    assert manifest.serialise() == OCTUE_RESULT_MANIFEST
    assert Manifest.from_primitive(json.loads(OCTUE_RESULT_MANIFEST)).to_primitive() == json.loads(
        OCTUE_RESULT_MANIFEST
    )
    dataset = manifest.get_dataset("more_data")
    assert dataset.id == "0a6f3cbb-8d1c-4b59-9f0e-2f3e4d5c6b7a" and dataset.labels == {"met", "mast"}
    assert sorted(file.name for file in dataset._files) == ["a.csv", "b.csv"]


def test_local_manifest_round_trip(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "a.csv").write_text("a")
    manifest = Manifest(
        datasets={"one": Dataset(files=[str(folder / "a.csv")], path=str(folder), name="x"), "two": str(folder)}
    )
    primitive = manifest.to_primitive()
    assert primitive["datasets"]["two"] == str(folder)
    assert primitive["datasets"]["one"]["files"] == [str(folder / "a.csv")]
    assert Manifest.deserialise(manifest.serialise(), from_string=True).serialise() == manifest.serialise()


def test_get_dataset_lists_keys_when_missing():
    with pytest.raises(InvalidInputException, match=r"no dataset 'nope'.*\['a'\]"):
        Manifest.prepare(["a"]).get_dataset("nope")


def test_prepare_makes_empty_local_datasets():
    manifest = Manifest.prepare(["cleaned", "other"])
    assert sorted(manifest.datasets) == ["cleaned", "other"]
    dataset = manifest.get_dataset("cleaned")
    assert len(dataset) == 0 and dataset.name == "cleaned" and cache.is_in_cache(dataset.path)
    strand = Manifest().prepare({"datasets": {"cleaned_met_mast_data": {"purpose": "..."}}})
    assert list(strand.datasets) == ["cleaned_met_mast_data"]
    with pytest.raises(InvalidInputException):
        manifest.prepare(["again"])


def test_from_primitive_accepts_json_text_and_rejects_other_types():
    assert Manifest.from_primitive('{"id": null, "datasets": {}}').datasets == {}
    with pytest.raises(InvalidManifestType):
        Manifest.from_primitive([1, 2])


def test_to_cloud_from_cloud_download_and_signed_urls(tmp_path, test_bucket):
    root = f"gs://{test_bucket}/manifests/{uuid.uuid4().hex}"
    folder = tmp_path / "met"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.csv").write_text("a")
    (folder / "sub" / "b.csv").write_text("b")
    dataset = Dataset(str(folder), name="met", labels=["raw"])
    dataset.upload(f"{root}/met")
    manifest = Manifest(datasets={"met": dataset}, name="my-manifest")
    manifest.to_cloud(f"{root}/manifest.json")
    again = Manifest.from_cloud(f"{root}/manifest.json")
    assert again.id == manifest.id and again.get_dataset("met").labels == {"raw"}
    assert sorted(file.name for file in again.get_dataset("met").files) == ["a.csv", "b.csv"]

    paths = again.download()
    assert open(os.path.join(paths["met"], "sub", "b.csv")).read() == "b"

    again.use_signed_urls_for_datasets()
    signed_path = again.get_dataset("met").path
    assert signed_path.startswith("http") and "X-Goog-Signature" in signed_path
    again.use_signed_urls_for_datasets()  # idempotent
    assert again.get_dataset("met").path == signed_path
    assert requests.get(signed_path, timeout=10).status_code == 200

    received = Manifest.from_primitive(again.serialise(), remote=True)
    files = received.get_dataset("met").files
    assert sorted(file.name for file in files) == ["a.csv", "b.csv"]
    with files.one(name="a.csv").open() as f:
        assert f.read() == "a"


def test_manifests_can_be_pickled(tmp_path):
    import pickle

    (tmp_path / "a.csv").write_text("a")
    manifest = Manifest(datasets={"d": Dataset(files=[str(tmp_path / "a.csv")], path=str(tmp_path))})
    again = pickle.loads(pickle.dumps(manifest))
    assert again.serialise() == manifest.serialise()
    assert again.get_dataset("d").files.one().name == "a.csv"
