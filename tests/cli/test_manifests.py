"""Input manifests given on the command line (octue_beam/cli/manifests.py): local datasets go to the storage
emulator; with none in use they are a clear error; a manifest of cloud datasets is sent as it is."""

import pytest

from octue_beam.cli.arguments import CommandError
from octue_beam.cli.manifests import local_dataset_keys, upload_local_datasets


def test_a_manifest_of_cloud_datasets_is_sent_unchanged(monkeypatch):
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    manifest = {"id": None, "datasets": {"a": "gs://bucket/a", "b": {"path": "https://example.com/signed"}}}
    assert local_dataset_keys(manifest) == []
    assert upload_local_datasets(manifest, "--input-manifest") is manifest


def test_local_datasets_without_a_storage_emulator_are_an_error_naming_them(tmp_path, monkeypatch):
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "a.csv").write_text("x\n1\n")
    manifest = {"datasets": {"cloud": "gs://bucket/a", "raw": str(tmp_path / "raw")}}
    assert local_dataset_keys(manifest) == ["raw"]
    with pytest.raises(CommandError, match=r"--ask-manifest names local datasets \('raw' \(.*raw\)\), which a "
                                           r"service refuses in a question"):
        upload_local_datasets(manifest, "--ask-manifest")
