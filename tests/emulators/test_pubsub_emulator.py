import os
import stat
import subprocess

import pytest

from octue_beam.emulators import pubsub as pubsub_emulator_module
from octue_beam.emulators.local import local_emulators
from octue_beam.emulators.pubsub import PubSubEmulator, find_emulator_command
from octue_beam.environment import LOCAL_PROJECT
from octue_beam.exceptions import EmulatorNotFound, EmulatorStartError


def _group_alive(pid: int) -> bool:
    return bool(subprocess.run(["pgrep", "-g", str(pid)], capture_output=True).stdout.strip())


def test_session_emulator_serves_clients(pubsub_emulator):
    from google.cloud import pubsub_v1

    assert os.environ["PUBSUB_EMULATOR_HOST"] == pubsub_emulator.host_port
    assert pubsub_emulator.environment() == {"PUBSUB_EMULATOR_HOST": pubsub_emulator.host_port}
    client = pubsub_v1.PublisherClient()
    topic = client.create_topic(name=f"projects/{os.environ['GOOGLE_CLOUD_PROJECT']}/topics/emulator-smoke-test")
    assert topic.name.endswith("/emulator-smoke-test")


def test_start_and_stop_restore_environment_and_kill_the_process_group(monkeypatch):
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", "previous:1")
    emulator = PubSubEmulator()
    with emulator:
        assert emulator.port != 0
        assert emulator.host_port == f"localhost:{emulator.port}"
        assert os.environ["PUBSUB_EMULATOR_HOST"] == emulator.host_port
        pid = emulator._process.pid
        data_dir = emulator._data_dir
        assert os.path.isdir(data_dir)
        assert _group_alive(pid)
    assert os.environ["PUBSUB_EMULATOR_HOST"] == "previous:1"
    assert not _group_alive(pid)
    assert not os.path.exists(data_dir)
    emulator.stop()  # idempotent


def test_missing_binary_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("OCTUE_BEAM_PUBSUB_EMULATOR", str(tmp_path / "nowhere"))
    with pytest.raises(EmulatorNotFound, match="gcloud components install pubsub-emulator"):
        find_emulator_command()


def test_nothing_installed_raises_emulator_not_found(monkeypatch):
    monkeypatch.delenv("OCTUE_BEAM_PUBSUB_EMULATOR", raising=False)
    monkeypatch.setattr(pubsub_emulator_module, "DEFAULT_BINARY", "/nonexistent/cloud-pubsub-emulator")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(EmulatorNotFound, match="google-cloud-cli-pubsub-emulator"):
        PubSubEmulator().start()


def test_emulator_that_exits_reports_its_output(monkeypatch, tmp_path):
    script = tmp_path / "broken-emulator"
    script.write_text("#!/bin/sh\necho 'Java not found: please install Java 11'\nexit 3\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("OCTUE_BEAM_PUBSUB_EMULATOR", str(script))
    before = os.environ.get("PUBSUB_EMULATOR_HOST")
    with pytest.raises(EmulatorStartError, match="(?s)exited \\(code 3\\).*Java not found"):
        PubSubEmulator().start()
    assert os.environ.get("PUBSUB_EMULATOR_HOST") == before


def test_emulator_that_never_starts_times_out(monkeypatch, tmp_path):
    script = tmp_path / "silent-emulator"
    script.write_text("#!/bin/sh\necho 'starting slowly'\nsleep 60\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("OCTUE_BEAM_PUBSUB_EMULATOR", str(script))
    emulator = PubSubEmulator(start_timeout=1)
    with pytest.raises(EmulatorStartError, match="(?s)did not print 'Server started'.*starting slowly"):
        emulator.start()
    assert not emulator.running


def test_local_emulators_start_pubsub_when_nothing_is_configured(monkeypatch):
    for name in ("PUBSUB_EMULATOR_HOST", "GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "GCP_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    with local_emulators(storage=False) as local:
        assert local.project == LOCAL_PROJECT
        assert local.started == ["pubsub"]
        assert os.environ["PUBSUB_EMULATOR_HOST"] == local.pubsub.host_port
        pid = local.pubsub._process.pid
    assert "PUBSUB_EMULATOR_HOST" not in os.environ
    assert not _group_alive(pid)
    local.stop()  # idempotent


def test_local_emulators_reuse_a_configured_emulator(pubsub_emulator):
    with local_emulators(storage=False) as local:
        assert local.started == []
        assert local.project == os.environ["GOOGLE_CLOUD_PROJECT"]
    assert os.environ["PUBSUB_EMULATOR_HOST"] == pubsub_emulator.host_port


def test_local_emulators_use_the_given_project_without_emulating(monkeypatch):
    monkeypatch.delenv("PUBSUB_EMULATOR_HOST", raising=False)
    with local_emulators(project="my-cloud-project", storage=False) as local:
        assert local.started == []
        assert local.project == "my-cloud-project"


def test_local_emulators_start_storage_with_the_local_bucket(monkeypatch):
    for name in (
        "PUBSUB_EMULATOR_HOST",
        "STORAGE_EMULATOR_HOST",
        "GOOGLE_CLOUD_PROJECT",
        "GCLOUD_PROJECT",
        "GCP_PROJECT",
    ):
        monkeypatch.delenv(name, raising=False)
    with local_emulators() as local:
        assert local.started == ["pubsub", "storage"]
        assert local.bucket == "octue-beam-local"
        assert os.environ["STORAGE_EMULATOR_HOST"] == local.storage.endpoint
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        client = storage.Client(project=local.project, credentials=AnonymousCredentials())
        assert client.bucket("octue-beam-local").exists()
    assert "STORAGE_EMULATOR_HOST" not in os.environ
    assert "PUBSUB_EMULATOR_HOST" not in os.environ


def test_local_emulators_start_storage_beside_a_configured_pubsub_emulator(pubsub_emulator, monkeypatch):
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    with local_emulators() as local:
        assert local.started == ["storage"]


def test_a_taken_port_is_reported(pubsub_emulator):
    emulator = PubSubEmulator(port=pubsub_emulator.port, start_timeout=30)
    with pytest.raises(EmulatorStartError, match="the port is already in use"):
        emulator.start()
    assert not emulator.running


def test_another_port_is_tried_when_the_chosen_one_is_taken(pubsub_emulator, monkeypatch):
    ports = iter([pubsub_emulator.port])
    real_free_port = pubsub_emulator_module.free_port
    monkeypatch.setattr(pubsub_emulator_module, "free_port", lambda host: next(ports, None) or real_free_port(host))
    with PubSubEmulator() as emulator:
        assert emulator.port != pubsub_emulator.port
        assert emulator.running
