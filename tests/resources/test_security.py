"""Remote manifests and signed-URL datasets can never make the service read or write outside its own folders."""

import json
import os
import uuid

import pytest

from octue_beam import Dataset, Manifest
from octue_beam.exceptions import UnsafePath
from octue_beam.resources import check_remote_manifest
from octue_beam.storage import client
from octue_beam.storage.path import check_relative_path, safe_local_join


@pytest.mark.parametrize(
    "datasets, message",
    [
        ({"d": "/etc"}, "local path '/etc' is not allowed"),
        ({"d": "relative/folder"}, "local path"),
        ({"d": {"path": "/tmp/x", "files": ["/etc/passwd"]}}, "local path"),
        ({"d": {"path": "gs://bucket/x", "files": ["/etc/passwd"]}}, "local path '/etc/passwd'"),
        (
            {"d": {"path": "gs://bucket/x", "files": [{"path": "gs://bucket/x/a", "local_path": "/etc/passwd"}]}},
            "not dict",
        ),
        ({"d": "gs://bucket/prefix/../../other"}, "'..'"),
        ({"d": {"path": "gs://bucket/x", "files": ["gs://bucket/x/../../y"]}}, "'..'"),
        ({"d": "http://169.254.169.254/computeMetadata/v1/"}, "only https://"),
        ({"d": "file:///etc/passwd"}, "local path"),
        ({"d": "https://storage.googleapis.com/b/x/%2E%2E/%2E%2E/y?sig=1"}, "'..'"),
        ({"../escape": "gs://bucket/x"}, "dataset key"),
        ({"a/b": "gs://bucket/x"}, "dataset key"),
    ],
)
def test_remote_manifest_rejections(datasets, message):
    with pytest.raises(UnsafePath, match=message):
        Manifest.from_primitive({"id": None, "datasets": datasets}, remote=True)


def test_remote_manifest_accepts_cloud_paths_and_can_allow_local(tmp_path):
    manifest = Manifest.from_primitive(
        {"datasets": {"d": {"path": "gs://bucket/x", "files": ["gs://bucket/x/a.csv"], "name": "d"}}}, remote=True
    )
    assert manifest.get_dataset("d").path == "gs://bucket/x"
    (tmp_path / "f.txt").write_text("f")
    local = Manifest.from_primitive({"datasets": {"d": str(tmp_path)}}, remote=True, allow_local_paths=True)
    assert len(local.get_dataset("d")) == 1
    with pytest.raises(UnsafePath):
        check_remote_manifest(local)


def test_relative_path_checks(tmp_path):
    assert check_relative_path("a/./b//c") == "a/b/c"
    for bad in ("", "..", "../a", "a/../../b", "/abs", "C:/x", "a\\..\\..\\b"):
        with pytest.raises(UnsafePath):
            check_relative_path(bad)
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "root"
    root.mkdir()
    os.symlink(outside, root / "link")
    with pytest.raises(UnsafePath, match="outside the folder"):
        safe_local_join(str(root), "link/file.txt")
    os.symlink(outside / "target.txt", root / "file-link")
    with pytest.raises(UnsafePath):
        safe_local_join(str(root), "file-link")
    assert safe_local_join(str(root), "ok/file.txt") == os.path.join(os.path.realpath(root), "ok", "file.txt")


def test_cloud_object_names_with_dot_dot_cannot_escape_on_download(test_bucket, tmp_path):
    """Cloud Storage allows object names with '..' segments (the emulator does not): they never leave the folder."""
    prefix = f"gs://{test_bucket}/escape/{uuid.uuid4().hex}"
    dataset = Dataset(path=prefix, files=[f"{prefix}/a/../../../evil.txt"])
    with pytest.raises(UnsafePath, match="would leave its folder"):
        dataset.download(str(tmp_path / "deep" / "down"))
    assert not list(tmp_path.rglob("evil.txt"))


def test_signed_dataset_with_escaping_paths_is_rejected(test_bucket, tmp_path):
    prefix = f"gs://{test_bucket}/signed-escape/{uuid.uuid4().hex}"
    client.upload_bytes(b"x", f"{prefix}/x.txt")
    url = client.generate_signed_url(f"{prefix}/x.txt")
    document = {
        "id": None,
        "name": "evil",
        "tags": {},
        "labels": [],
        "files": [url],
        "files_metadata": [{"path_in_dataset": "../../outside.txt"}],
    }
    client.upload_bytes(json.dumps(document), f"{prefix}/.signed_metadata_files/doc")
    with pytest.raises(UnsafePath):
        Dataset(client.generate_signed_url(f"{prefix}/.signed_metadata_files/doc"))


def test_download_refuses_to_write_through_symlinks(test_bucket, tmp_path):
    prefix = f"gs://{test_bucket}/symlink/{uuid.uuid4().hex}"
    client.upload_bytes(b"data", f"{prefix}/sub/file.txt")
    outside = tmp_path / "outside"
    outside.mkdir()
    target = tmp_path / "target"
    target.mkdir()
    os.symlink(outside, target / "sub")
    with pytest.raises(UnsafePath):
        Dataset(prefix).download(str(target))
    assert not (outside / "file.txt").exists()
