"""Dataset: local folders with `.octue` metadata, gs:// prefixes, signed-URL datasets, parallel transfers."""

import json
import os
import uuid

import pytest
import requests

from octue_beam import Datafile, Dataset
from octue_beam.exceptions import CloudLocationNotSpecified, InvalidInputException, ReadOnlyResource, UnsafePath
from octue_beam.resources import FilterSet, cache
from octue_beam.resources.hashing import hash_bytes
from octue_beam.storage import client


def make_folder(root, files):
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return root


@pytest.fixture
def local_dataset_folder(tmp_path):
    root = make_folder(tmp_path / "raw", {"a.csv": "1,2", "b.csv": "3,4", "sub/c.dat": "meta", "sub/deeper/d.txt": "d"})
    (root / ".octue").write_text(
        json.dumps(
            {
                "datafiles": {
                    "a.csv": {"tags": {"sequence": 0}, "labels": {"_type": "set", "items": ["timeseries"]}},
                    "b.csv": {"tags": {"sequence": 1}, "labels": {"_type": "set", "items": ["timeseries"]}},
                },
                "dataset": {
                    "id": "c9bb5f65-cad9-4360-bebb-856af7ec6e85",
                    "name": "raw-data",
                    "tags": {"location": 108346},
                    "labels": ["met", "mast"],
                    "path": "raw",
                },
            }
        )
    )
    (root / "sub" / ".octue").write_text(json.dumps({"datafiles": {"c.dat": {"labels": ["meta"], "tags": {}}}}))
    return root


def test_local_folder_recursive_with_metadata(local_dataset_folder):
    dataset = Dataset(str(local_dataset_folder))
    assert isinstance(dataset.files, FilterSet)
    assert sorted(file.name for file in dataset.files) == ["a.csv", "b.csv", "c.dat", "d.txt"]
    assert dataset.id == "c9bb5f65-cad9-4360-bebb-856af7ec6e85"
    assert dataset.name == "raw-data"
    assert dataset.tags == {"location": 108346} and dataset.labels == {"met", "mast"}
    assert dataset.get_file_by_label("meta").name == "c.dat"
    ordered = dataset.files.filter(labels__contains="timeseries").order_by(
        "tags__sequence", check_start_value=0, check_constant_increment=1
    )
    assert [file.name for file in ordered] == ["a.csv", "b.csv"]
    assert len(dataset) == 4 and all(file in dataset for file in dataset.files)


def test_non_recursive_and_missing_folder(local_dataset_folder, tmp_path):
    assert sorted(file.name for file in Dataset(str(local_dataset_folder), recursive=False).files) == ["a.csv", "b.csv"]
    empty = Dataset(str(tmp_path / "does-not-exist"), name="empty")
    assert len(empty) == 0 and empty.name == "empty"


def test_local_dataset_metadata_written_in_octue_shape(tmp_path):
    folder = make_folder(tmp_path / "ds", {"x.txt": "x"})
    with Dataset(str(folder), name="my-dataset", tags={"a": 1}, labels=["l"]) as dataset:
        pass
    written = json.loads((folder / ".octue").read_text())
    assert written["dataset"] == {
        "id": dataset.id,
        "name": "my-dataset",
        "tags": {"a": 1},
        "labels": ["l"],
        "path": str(folder),
    }
    again = Dataset(str(folder))
    assert (again.id, again.name, again.tags, again.labels) == (dataset.id, "my-dataset", {"a": 1}, {"l"})


def test_from_files_and_serialisation(local_dataset_folder):
    paths = [str(local_dataset_folder / "a.csv"), str(local_dataset_folder / "b.csv")]
    dataset = Dataset(files=paths, name="two", path=str(local_dataset_folder))
    primitive = dataset.to_primitive()
    assert set(primitive) == {"id", "name", "tags", "labels", "path", "files"}
    assert primitive["files"] == sorted(paths)
    again = Dataset.deserialise(dataset.serialise(), from_string=True)
    assert again.to_primitive() == primitive
    assert {file.tags["sequence"] for file in again.files} == {0, 1}


def test_files_argument_must_be_an_iterable_of_files():
    with pytest.raises(InvalidInputException):
        Dataset(files="a.csv")
    with pytest.raises(InvalidInputException):
        Dataset(files=[3])


def test_add_copies_outside_files_in_and_refuses_escapes(tmp_path):
    dataset_folder = tmp_path / "dataset"
    dataset_folder.mkdir()
    outside = make_folder(tmp_path / "outside", {"o.txt": "o"})
    dataset = Dataset(str(dataset_folder))
    datafile = Datafile(str(outside / "o.txt"))
    dataset.add(datafile, path_in_dataset="inner/o.txt")
    assert (
        datafile.local_path == str(dataset_folder / "inner" / "o.txt") and (dataset_folder / "inner" / "o.txt").exists()
    )
    assert datafile in dataset
    for bad in ("../escape.txt", "/etc/passwd", "a/../../b"):
        with pytest.raises(UnsafePath):
            dataset.add(Datafile(str(outside / "o.txt")), path_in_dataset=bad)


def test_local_dataset_cannot_be_downloaded(local_dataset_folder):
    with pytest.raises(CloudLocationNotSpecified):
        Dataset(str(local_dataset_folder)).download()


# --- cloud ---------------------------------------------------------------------------------------


def prefix(bucket):
    return f"gs://{bucket}/datasets/{uuid.uuid4().hex}"


def test_upload_then_build_from_cloud_prefix(local_dataset_folder, test_bucket):
    dataset = Dataset(str(local_dataset_folder))
    target = prefix(test_bucket)
    assert dataset.upload(target) == target
    assert dataset.path == target and dataset.exists_in_cloud and dataset.all_files_are_in_cloud
    cloud = Dataset(target)
    assert sorted(file.cloud_path for file in cloud.files) == sorted(
        f"{target}/{name}" for name in ("a.csv", "b.csv", "sub/c.dat", "sub/deeper/d.txt")
    )
    assert (cloud.id, cloud.name, cloud.tags, cloud.labels) == (
        dataset.id,
        "raw-data",
        {"location": 108346},
        {"met", "mast"},
    )
    a = cloud.files.one(name="a.csv")
    assert a._stored_loaded and a.tags == {"sequence": 0} and a.labels == {"timeseries"}
    assert a.hash_value == hash_bytes(b"1,2")
    assert cloud.hash_value == dataset.hash_value
    # The dataset metadata object is Octue's `{"dataset": {...}}`.
    stored = json.loads(client.download_bytes(f"{target}/.octue"))
    assert set(stored) == {"dataset"} and stored["dataset"]["name"] == "raw-data"


def test_download_keeps_relative_paths(local_dataset_folder, test_bucket, tmp_path):
    target = prefix(test_bucket)
    Dataset(str(local_dataset_folder)).upload(target)
    cloud = Dataset(target)
    folder = cloud.download(str(tmp_path / "down"))
    assert (tmp_path / "down" / "sub" / "deeper" / "d.txt").read_text() == "d"
    assert (tmp_path / "down" / "a.csv").read_text() == "1,2"
    default = Dataset(target).download()
    assert cache.is_in_cache(default) and os.path.exists(os.path.join(default, "sub", "c.dat"))
    assert folder == str(tmp_path / "down")


def test_dataset_from_cloud_files_lists_once_and_serialises_as_object(local_dataset_folder, test_bucket):
    target = prefix(test_bucket)
    Dataset(str(local_dataset_folder)).upload(target)
    paths = [f"{target}/a.csv", f"{target}/b.csv"]
    dataset = Dataset(path=target, files=paths, name="two")
    assert not any(file._stored_loaded for file in dataset._files)
    assert sorted(file.tags["sequence"] for file in dataset.files) == [0, 1]
    assert dataset.to_primitive()["files"] == paths


def test_add_to_cloud_dataset_uploads(test_bucket, tmp_path):
    target = prefix(test_bucket)
    dataset = Dataset(path=target, files=[], name="empty-cloud")
    (tmp_path / "n.txt").write_text("new")
    datafile = Datafile(str(tmp_path / "n.txt"), labels=["added"])
    dataset.add(datafile, path_in_dataset="folder/n.txt")
    assert datafile.cloud_path == f"{target}/folder/n.txt"
    assert Dataset(target).files.one().labels == {"added"}


def test_signed_url_dataset(local_dataset_folder, test_bucket, tmp_path):
    target = prefix(test_bucket)
    Dataset(str(local_dataset_folder)).upload(target)
    cloud = Dataset(target)
    url = cloud.generate_signed_url()
    document = requests.get(url, timeout=10).json()
    # Octue's keys, with file URLs; octue_beam adds per-file metadata that Octue ignores.
    assert {"id", "name", "tags", "labels", "path", "files"} <= set(document)
    assert all(file.startswith("http") for file in document["files"])
    signed = Dataset(url)
    assert signed.name == "raw-data" and signed.id == cloud.id and signed.tags == {"location": 108346}
    assert sorted(file.name for file in signed.files) == ["a.csv", "b.csv", "c.dat", "d.txt"]
    assert signed.files.one(name="a.csv").tags == {"sequence": 0}
    assert signed.get_file_by_label("meta").name == "c.dat"
    folder = signed.download(str(tmp_path / "from-urls"))
    assert (tmp_path / "from-urls" / "sub" / "deeper" / "d.txt").read_text() == "d"
    assert folder == str(tmp_path / "from-urls")
    with pytest.raises(ReadOnlyResource):
        signed.add(Datafile(str(local_dataset_folder / "a.csv")))


def test_octue_style_signed_dataset_without_file_metadata(local_dataset_folder, test_bucket):
    """A signed dataset document as Octue writes it (no per-file metadata): metadata comes from the URLs' headers."""
    target = prefix(test_bucket)
    Dataset(str(local_dataset_folder)).upload(target)
    cloud = Dataset(target)
    document = cloud.to_primitive(include_files=False)
    document["files"] = [file.generate_signed_url() for file in cloud.files]
    document_path = f"{target}/.signed_metadata_files/octue-style"
    client.upload_bytes(json.dumps(document), document_path)
    signed = Dataset(client.generate_signed_url(document_path))
    assert signed.files.one(name="b.csv").tags == {"sequence": 1}
    assert signed.files.one(name="b.csv").hash_value == hash_bytes(b"3,4")
    # Listing the dataset prefix again skips the signed metadata documents.
    assert ".signed_metadata_files" not in " ".join(file.cloud_path for file in Dataset(target).files)


def test_cache_scope_deletes_copies_made_inside_it(local_dataset_folder, test_bucket):
    target = prefix(test_bucket)
    Dataset(str(local_dataset_folder)).upload(target)
    with cache.scope("question-1") as folder:
        downloaded = Dataset(target).download()
        single = Dataset(target).files.one(name="a.csv").local_path
        assert downloaded.startswith(folder) and single.startswith(folder)
        assert os.path.exists(os.path.join(downloaded, "sub", "c.dat"))
    assert not os.path.exists(folder) and not os.path.exists(single)
    assert not cache.current_folder().startswith(folder)
