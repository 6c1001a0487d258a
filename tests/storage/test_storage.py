"""The Cloud Storage client wrapper, path helpers and the StorageEmulator."""

import os
import threading

import pytest
import requests

from octue_beam.emulators.storage import StorageEmulator
from octue_beam.resources.hashing import hash_bytes
from octue_beam.storage import client
from octue_beam.storage import path as storage_path


def test_path_helpers():
    assert storage_path.is_cloud_uri("gs://b/x") and not storage_path.is_cloud_uri("/b/x")
    assert storage_path.is_url("https://h/x") and storage_path.is_cloud_path("https://h/x")
    assert storage_path.split_bucket_name_from_cloud_path("gs://bucket/a/b.csv") == ("bucket", "a/b.csv")
    assert storage_path.join("gs://bucket/", "/a/", "b.csv") == "gs://bucket/a/b.csv"
    assert storage_path.generate_gs_path("bucket", "a", "b") == "gs://bucket/a/b"
    assert storage_path.relpath("gs://b/p/sub/x.csv", "gs://b/p") == "sub/x.csv"
    assert storage_path.relpath("https://h/b/p/sub/x.csv?sig=1", "https://h/b/p") == "sub/x.csv"
    assert storage_path.name_of("https://h/b/p/my%20file.csv?X-Goog-Signature=1") == "my file.csv"
    with pytest.raises(ValueError):
        storage_path.split_bucket_name_from_cloud_path("/local")


def test_client_is_cached_and_anonymous_against_the_emulator(storage_emulator):
    first = client.get_storage_client()
    clients = []
    threads = [threading.Thread(target=lambda: clients.append(client.get_storage_client())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(other is first for other in clients)
    assert type(first._credentials).__name__ == "AnonymousCredentials"


def test_crc32c_matches_what_cloud_storage_reports(test_bucket):
    data = os.urandom(3 * 1024 * 1024 + 17)
    info = client.upload_bytes(data, f"gs://{test_bucket}/hashes/random.bin")
    assert info["crc32c"] == hash_bytes(data)
    assert client.get_metadata(f"gs://{test_bucket}/hashes/random.bin")["crc32c"] == hash_bytes(data)


def test_metadata_listing_copy_delete(test_bucket):
    root = f"gs://{test_bucket}/ops"
    client.upload_bytes(b"1", f"{root}/a.txt", metadata={"octue__tags": {"a": 1}})
    client.upload_bytes(b"2", f"{root}/sub/b.txt")
    assert client.get_metadata(f"{root}/a.txt")["custom_metadata"] == {"octue__tags": {"a": 1}}
    assert client.get_metadata(f"{root}/missing.txt") is None
    assert client.get_metadata(f"gs://no-such-bucket-{os.getpid()}/x") is None
    assert sorted(info["cloud_path"] for info in client.list_objects(root)) == [f"{root}/a.txt", f"{root}/sub/b.txt"]
    assert [info["cloud_path"] for info in client.list_objects(root, recursive=False)] == [f"{root}/a.txt"]
    client.copy(f"{root}/a.txt", f"{root}/c.txt")
    assert client.download_bytes(f"{root}/c.txt") == b"1"
    client.delete(f"{root}/c.txt")
    assert not client.exists(f"{root}/c.txt")
    with pytest.raises(FileNotFoundError):
        client.download_bytes(f"{root}/c.txt")


def test_signed_url_reads_through_the_emulator(test_bucket):
    client.upload_bytes(b"signed", f"gs://{test_bucket}/signed/x.txt")
    url = client.generate_signed_url(f"gs://{test_bucket}/signed/x.txt")
    assert "X-Goog-Signature=" in url and "X-Goog-Expires=604800" in url
    assert requests.get(url, timeout=10).content == b"signed"


@pytest.mark.parametrize("mode", ["thread", "subprocess"])
def test_emulator_start_stop_restores_environment_and_leaves_nothing(mode, storage_emulator):
    before_threads = set(threading.enumerate())
    session_host = os.environ["STORAGE_EMULATOR_HOST"]
    emulator = StorageEmulator(default_bucket="fresh-bucket", mode=mode)
    with emulator:
        assert emulator.port > 0 and emulator.endpoint == f"http://localhost:{emulator.port}"
        assert (
            os.environ["STORAGE_EMULATOR_HOST"] == emulator.endpoint == emulator.environment()["STORAGE_EMULATOR_HOST"]
        )
        client.upload_bytes(b"x", "gs://fresh-bucket/x")
        assert client.download_bytes("gs://fresh-bucket/x") == b"x"
        process = emulator._process
    assert os.environ["STORAGE_EMULATOR_HOST"] == session_host
    if process is not None:
        assert process.poll() is not None
    with pytest.raises(requests.ConnectionError):
        requests.get(emulator.endpoint, timeout=2)
    assert set(threading.enumerate()) <= before_threads
    emulator.stop()  # idempotent
