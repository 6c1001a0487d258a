"""`python -m octue_beam run` locally: the embedded default starts (and stops) its own emulators; a missing
emulator is a clear error; duplicate detection forgets nothing it should remember."""

import json
import os
import re
import socket
import subprocess
import sys
import uuid

from octue_beam.answering.seen import SeenSet
from octue_beam.testing import LocalService
from tests.support.paths import FIXTURES, REPOSITORY

CONFIGURATION_VARIABLES = (
    "PUBSUB_EMULATOR_HOST", "STORAGE_EMULATOR_HOST", "GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "GCP_PROJECT"
)


def _clean_environment() -> dict:
    environment = dict(os.environ)
    for name in CONFIGURATION_VARIABLES:
        environment.pop(name, None)
    return environment


def _listening(host_port: str) -> bool:
    host, port = host_port.rsplit(":", 1)
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, int(port))) == 0


def test_embedded_default_starts_emulators_prints_an_ask_command_and_stops_them(monkeypatch):
    for name in CONFIGURATION_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    service = LocalService(FIXTURES / "behaviours", revision_tag="embedded", cwd=REPOSITORY).start()
    try:
        output = service.log()
        assert "octue-beam-tests/behaviours:embedded" in output
        # The behaviours service uses no manifests: no storage emulator (tests/cli/test_lean_serving.py).
        assert "emulators started here: pubsub (no storage emulator" in output, output
        command = re.search(r"PUBSUB_EMULATOR_HOST=(\S+) GOOGLE_CLOUD_PROJECT=\S+ .*python -m octue_beam ask "
                            r"octue-beam-tests/behaviours:embedded --input-values '(.*)'", output)
        assert command, output
        pubsub_host = command.group(1)
        assert _listening(pubsub_host)
    finally:
        service.stop()
    assert not _listening(pubsub_host)


def test_missing_emulator_binary_is_a_clear_error():
    environment = {**_clean_environment(), "OCTUE_BEAM_PUBSUB_EMULATOR": "/nonexistent/cloud-pubsub-emulator"}
    completed = subprocess.run(
        [sys.executable, "-m", "octue_beam", "run", str(FIXTURES / "behaviours")],
        cwd=REPOSITORY, env=environment, capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 1
    assert "gcloud components install pubsub-emulator" in completed.stderr


def test_seen_set_remembers_duplicates_within_capacity_and_ttl():
    seen = SeenSet(capacity=2, ttl=3600)
    assert seen.add(("q1", 0)) and not seen.add(("q1", 0))
    assert seen.add(("q1", 1))  # a retry is new
    assert seen.add(("q2", 0))  # evicts the oldest
    assert ("q1", 0) not in seen and ("q2", 0) in seen
    expired = SeenSet(capacity=10, ttl=0)
    assert expired.add("x") and expired.add("x")


def test_run_with_ask_answers_one_question_on_its_own_emulators_and_exits():
    """The README's quick start: emulators started, the question answered and printed, everything stopped."""
    completed = subprocess.run(
        [sys.executable, "-m", "octue_beam", "run", "examples/fractal", "--ask", '{"width": 4, "height": 3}'],
        cwd=REPOSITORY, env=_clean_environment(), capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    answer = json.loads(completed.stdout)
    assert answer["output_values"]["layout"] == {"title": "Mandelbrot set", "width": 4, "height": 3}
    assert len(answer["output_values"]["data"]["z"]) == 3
    pubsub_host = re.search(r"PUBSUB_EMULATOR_HOST=(\S+)", completed.stderr).group(1)
    assert not _listening(pubsub_host)


def test_run_with_a_failing_question_exits_1_with_the_remote_error(pubsub_emulator):
    environment = {**os.environ, "TWINED_SERVICES_TOPIC_NAME": f"test.run-ask.{uuid.uuid4().hex[:8]}"}
    completed = subprocess.run(
        [sys.executable, "-m", "octue_beam", "run", "examples/fractal", "--ask", '{"width": 1}', "--ask-timeout", "60"],
        cwd=REPOSITORY, env=environment, capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 1
    assert "InvalidValuesContents" in completed.stderr and "$.width" in completed.stderr


def test_the_child_services_tree_runs_with_one_command(pubsub_emulator):
    """The command documented in examples/child-services/README.md: the parent, its two children, one question."""
    # The children's octue.yaml backends name the local project.
    environment = {
        **os.environ,
        "TWINED_SERVICES_TOPIC_NAME": f"test.tree.{uuid.uuid4().hex[:8]}",
        "GOOGLE_CLOUD_PROJECT": "octue-beam-local",
    }
    folder = REPOSITORY / "examples" / "child-services"
    completed = subprocess.run(
        [sys.executable, "-m", "octue_beam", "run", "parent-service", "--with", "elevation-service", "--with",
         "wind-speed-service", "--ask", "parent-service/data/input_values.json"],
        cwd=folder, env=environment, capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    answer = json.loads(completed.stdout)
    assert answer["output_values"] == {"wind_speeds": [10.0, 10.02], "elevations": [1500.0, 1552.3]}
