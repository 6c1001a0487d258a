"""Datafile: local metadata in Octue's `.octue` shape, cloud round trips on the emulator, signed URLs, hashes."""

import datetime
import json
import os
import uuid

import pytest
import requests

from octue_beam import Datafile
from octue_beam.exceptions import CloudLocationNotSpecified, InvalidInputException, ReadOnlyResource
from octue_beam.resources import cache, local_metadata
from octue_beam.resources.hashing import EMPTY_HASH, hash_bytes
from octue_beam.storage import client

OCTUE_WRITTEN_METADATA = """{
    "datafiles": {
        "a.csv": {
            "id": "4298a22c-be6f-4823-b93a-ace6a3bb4104",
            "timestamp": {"_type": "datetime", "value": "2021-01-02T03:04:05"},
            "tags": {"sequence": 0, "x": {"y": 1}},
            "labels": {"_type": "set", "items": ["timeseries"]},
            "sdk_version": "0.69.1"
        }
    },
    "dataset": {
        "id": "c9bb5f65-cad9-4360-bebb-856af7ec6e85",
        "name": "raw",
        "tags": {"location": 108346},
        "labels": ["mast", "met"],
        "path": "d"
    }
}
"""


def cloud_path(bucket, name):
    return f"gs://{bucket}/{uuid.uuid4().hex}/{name}"


# --- local ---------------------------------------------------------------------------------------


def test_octue_written_local_metadata_is_read(tmp_path):
    (tmp_path / "a.csv").write_text("hello")
    (tmp_path / ".octue").write_text(OCTUE_WRITTEN_METADATA)
    datafile = Datafile(str(tmp_path / "a.csv"), tags={"ignored": 1})
    assert datafile.id == "4298a22c-be6f-4823-b93a-ace6a3bb4104"
    assert datafile.timestamp == datetime.datetime(2021, 1, 2, 3, 4, 5)
    assert datafile.tags == {"sequence": 0, "x": {"y": 1}}
    assert datafile.labels == {"timeseries"}


def test_stored_metadata_can_be_ignored(tmp_path):
    (tmp_path / "a.csv").write_text("hello")
    (tmp_path / ".octue").write_text(OCTUE_WRITTEN_METADATA)
    datafile = Datafile(str(tmp_path / "a.csv"), tags={"mine": 1}, ignore_stored_metadata=True)
    assert datafile.tags == {"mine": 1}
    assert datafile.id != "4298a22c-be6f-4823-b93a-ace6a3bb4104"


def test_plain_forms_of_stored_metadata_are_accepted(tmp_path):
    (tmp_path / "a.csv").write_text("x")
    (tmp_path / ".octue").write_text(
        json.dumps(
            {"datafiles": {"a.csv": {"timestamp": "2021-01-02T03:04:05+00:00", "labels": ["p", "q"], "tags": {}}}}
        )
    )
    datafile = Datafile(str(tmp_path / "a.csv"))
    assert datafile.timestamp == datetime.datetime(2021, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    assert datafile.labels == {"p", "q"}


def test_written_local_metadata_has_octues_shape(tmp_path):
    path = tmp_path / "b.csv"
    timestamp = datetime.datetime(2022, 3, 4, 5, 6, 7, tzinfo=datetime.timezone.utc)
    datafile = Datafile(str(path), tags={"sequence": 1}, labels=["raw", "meta"], timestamp=timestamp)
    with datafile.open("w") as f:
        f.write("data")
    written = json.loads((tmp_path / ".octue").read_text())
    assert written == {
        "datafiles": {
            "b.csv": {
                "id": datafile.id,
                "timestamp": {"_type": "datetime", "value": "2022-03-04T05:06:07+00:00"},
                "tags": {"sequence": 1},
                "labels": {"_type": "set", "items": ["meta", "raw"]},
                "sdk_version": "0.1.0",
            }
        }
    }
    local_metadata.forget()
    again = Datafile(str(path))
    assert (again.id, again.tags, again.labels, again.timestamp) == (
        datafile.id,
        {"sequence": 1},
        {"raw", "meta"},
        timestamp,
    )


def test_context_manager_form(tmp_path):
    with Datafile(str(tmp_path / "c.txt"), mode="w", labels=["x"]) as (datafile, f):
        f.write("content")
    assert (tmp_path / "c.txt").read_text() == "content"
    assert Datafile(str(tmp_path / "c.txt")).labels == {"x"}


def test_local_hash_is_crc32c_of_bytes(tmp_path):
    (tmp_path / "h.bin").write_bytes(b"some bytes")
    datafile = Datafile(str(tmp_path / "h.bin"))
    assert datafile.hash_value == hash_bytes(b"some bytes")
    (tmp_path / "h.bin").write_bytes(b"other bytes, longer")
    assert datafile.hash_value == hash_bytes(b"other bytes, longer")


def test_serialisation_shape_and_round_trip(tmp_path):
    (tmp_path / "s.csv").write_text("x")
    datafile = Datafile(str(tmp_path / "s.csv"), tags={"a": 1}, labels=["b"], timestamp=datetime.datetime(2020, 1, 1))
    primitive = datafile.to_primitive()
    assert set(primitive) == {"id", "name", "path", "timestamp", "tags", "labels", "cloud_path", "local_path"}
    assert primitive["labels"] == ["b"] and primitive["path"] == str(tmp_path / "s.csv")
    again = Datafile.deserialise(datafile.serialise(), from_string=True)
    assert again.to_primitive() == primitive


def test_invalid_id_is_refused(tmp_path):
    with pytest.raises(InvalidInputException, match="not a valid UUID"):
        Datafile(str(tmp_path / "x"), id="nope")


def test_local_datafile_cannot_be_downloaded_or_signed(tmp_path):
    datafile = Datafile(str(tmp_path / "x"))
    with pytest.raises(CloudLocationNotSpecified):
        datafile.download()
    with pytest.raises(CloudLocationNotSpecified):
        datafile.generate_signed_url()


# --- cloud ---------------------------------------------------------------------------------------


def test_upload_stores_metadata_as_octue_custom_metadata(tmp_path, test_bucket):
    (tmp_path / "u.csv").write_text("uploaded")
    timestamp = datetime.datetime(2021, 6, 7, 8, 9, 10)
    datafile = Datafile(str(tmp_path / "u.csv"), tags={"height": 3}, labels=["raw"], timestamp=timestamp)
    target = cloud_path(test_bucket, "u.csv")
    assert datafile.upload(target) == target
    blob = client.get_storage_client().bucket(test_bucket).get_blob(target.split("/", 3)[3])
    # Exactly what Octue writes: JSON-encoded values under octue__ keys.
    assert blob.metadata == {
        "octue__id": json.dumps(datafile.id),
        "octue__timestamp": '{"_type": "datetime", "value": "2021-06-07T08:09:10"}',
        "octue__tags": '{"height": 3}',
        "octue__labels": '{"_type": "set", "items": ["raw"]}',
        "octue__sdk_version": '"0.1.0"',
    }
    cloud = Datafile(target)
    assert (cloud.id, cloud.tags, cloud.labels, cloud.timestamp) == (datafile.id, {"height": 3}, {"raw"}, timestamp)
    assert cloud.hash_value == hash_bytes(b"uploaded") == blob.crc32c
    assert not cloud.exists_locally  # the hash came from the cloud, nothing was downloaded
    assert cloud.size_bytes == len("uploaded")


def test_octue_written_cloud_metadata_is_read(test_bucket):
    target = cloud_path(test_bucket, "o.csv")
    client.upload_bytes(b"abc", target)
    blob = client.get_storage_client().bucket(test_bucket).blob(target.split("/", 3)[3])
    blob.metadata = {
        "octue__id": '"4298a22c-be6f-4823-b93a-ace6a3bb4104"',
        "octue__timestamp": '{"_type": "datetime", "value": "2021-01-02T03:04:05"}',
        "octue__tags": '{"sequence": 2}',
        "octue__labels": '{"_type": "set", "items": ["timeseries"]}',
        "octue__sdk_version": '"0.69.1"',
    }
    blob.patch()
    datafile = Datafile(target, tags={"overridden": True})
    assert datafile.id == "4298a22c-be6f-4823-b93a-ace6a3bb4104"
    assert datafile.tags == {"sequence": 2}
    assert datafile.labels == {"timeseries"}
    assert datafile.timestamp == datetime.datetime(2021, 1, 2, 3, 4, 5)


def test_lazy_download_and_open(test_bucket):
    target = cloud_path(test_bucket, "lazy.txt")
    client.upload_bytes(b"lazy content", target)
    datafile = Datafile(target)
    assert not datafile.exists_locally
    with datafile.open() as f:
        assert f.read() == "lazy content"
    assert datafile.exists_locally and cache.is_in_cache(datafile.local_path)
    assert os.path.basename(datafile.local_path) == "lazy.txt"


def test_writing_a_cloud_file_uploads_on_close(test_bucket):
    target = cloud_path(test_bucket, "w.txt")
    datafile = Datafile(target, tags={"a": 1})
    with datafile.open("w") as f:
        f.write("written")
    assert client.download_bytes(target) == b"written"
    assert Datafile(target).tags == {"a": 1}
    with datafile.open("a") as f:
        f.write(" more")
    assert client.download_bytes(target) == b"written more"


def test_download_to_given_path_and_upload_elsewhere(tmp_path, test_bucket):
    source = cloud_path(test_bucket, "d.txt")
    client.upload_bytes(b"payload", source)
    datafile = Datafile(source, labels=["x"], ignore_stored_metadata=True)
    local = datafile.download(str(tmp_path / "sub" / "d.txt"))
    assert open(local, "rb").read() == b"payload"
    copy_path = cloud_path(test_bucket, "copy.txt")
    datafile.upload(copy_path)
    assert client.download_bytes(copy_path) == b"payload"
    assert Datafile(copy_path).labels == {"x"}


def test_server_side_copy_of_cloud_file_without_local_copy(test_bucket):
    source = cloud_path(test_bucket, "src.txt")
    client.upload_bytes(b"copy me", source)
    datafile = Datafile(source, tags={"k": 1}, ignore_stored_metadata=True)
    destination = cloud_path(test_bucket, "dst.txt")
    datafile.upload(destination)
    assert not datafile.exists_locally
    assert client.download_bytes(destination) == b"copy me"
    assert Datafile(destination).tags == {"k": 1}


def test_update_cloud_metadata_without_reupload(test_bucket):
    target = cloud_path(test_bucket, "m.txt")
    client.upload_bytes(b"m", target)
    datafile = Datafile(target)
    datafile.tags = {"new": 2}
    datafile.labels = ["fresh"]
    datafile.update_metadata()
    again = Datafile(target)
    assert again.tags == {"new": 2} and again.labels == {"fresh"}


def test_missing_cloud_file_raises_on_read(test_bucket):
    datafile = Datafile(cloud_path(test_bucket, "missing.txt"))
    with pytest.raises(FileNotFoundError, match="No object exists"):
        _ = datafile.local_path  # reading it downloads the file
    assert datafile.hash_value == EMPTY_HASH


def test_signed_url_download_and_read_only(test_bucket):
    target = cloud_path(test_bucket, "signed.csv")
    with Datafile(target, tags={"sequence": 4}, labels=["meta"]).open("w") as f:
        f.write("signed content")
    url = Datafile(target).generate_signed_url(expiration=datetime.timedelta(hours=1))
    assert url.startswith(os.environ["STORAGE_EMULATOR_HOST"]) and "X-Goog-Signature=" in url
    assert requests.get(url, timeout=10).content == b"signed content"
    url_file = Datafile(url)
    assert url_file.name == "signed.csv"
    assert url_file.tags == {"sequence": 4} and url_file.labels == {"meta"}
    assert url_file.hash_value == hash_bytes(b"signed content")
    with url_file.open() as f:
        assert f.read() == "signed content"
    with pytest.raises(ReadOnlyResource, match="read-only"):
        with url_file.open("w") as f:
            f.write("nope")
    with pytest.raises(ReadOnlyResource):
        url_file.upload(url)
