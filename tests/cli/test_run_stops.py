"""SIGINT and SIGTERM both stop a `run` a script started in the background (where the shell ignores SIGINT), with
everything it started: the pipeline process and both emulators, and no temporary folder is left (issue 12)."""

import glob
import os
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from octue_beam.processes import is_running
from tests.support.paths import REPOSITORY

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process checks read /proc")

EMULATOR_VARIABLES = (
    "PUBSUB_EMULATOR_HOST", "STORAGE_EMULATOR_HOST", "GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "GCP_PROJECT"
)


def _descendants(pid: int) -> dict[int, str]:
    """The running descendants of `pid` and their command lines."""
    parents = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                command = cmdline.read().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if fields[0] != "Z":
            parents[int(entry)] = (int(fields[1]), command)
    found, frontier = {}, [pid]
    while frontier:
        parent = frontier.pop()
        for child, (its_parent, command) in parents.items():
            if its_parent == parent and child not in found:
                found[child] = command
                frontier.append(child)
    return found


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"Not {what} within {timeout} s.")
        time.sleep(0.2)


def _temporary_folders(pid: int) -> list[str]:
    return glob.glob(os.path.join(tempfile.gettempdir(), f"octue-beam-{pid}-*"))


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_a_background_run_its_emulators_and_leaves_no_temporary_folder(signum, tmp_path):
    log = tmp_path / "run.log"
    # A service with manifests, so that `run` starts the storage emulator too (examples/fractal needs none).
    script = f"{sys.executable} -m octue_beam run examples/using-manifests > {log} 2>&1 & echo $!; wait"
    environment = {name: value for name, value in os.environ.items() if name not in EMULATOR_VARIABLES}
    shell = subprocess.Popen(
        ["bash", "-c", script], cwd=REPOSITORY, env=environment, stdout=subprocess.PIPE, text=True,
        start_new_session=True,
    )
    try:
        run = int(shell.stdout.readline())
        _wait_for(lambda: log.exists() and "is ready" in log.read_text(), 120, "ready")
        started = _descendants(run)
        commands = list(started.values())
        assert any("pubsub-emulator" in command for command in commands), commands
        assert any("gcp_storage_emulator" in command for command in commands), commands
        assert any("--control-fd" in command for command in commands), commands
        assert _temporary_folders(run)  # the Pub/Sub emulator's data folder: the check below is real
        assert f"kill -{signum.name[3:]} {run}" in log.read_text()  # the ready message says how to stop it

        os.kill(run, signum)
        _wait_for(lambda: not is_running(run), 60, f"stopped by {signum.name}:\n{log.read_text()[-3000:]}")
        assert shell.wait(timeout=10) == 0
        assert "Stopping the service." in log.read_text()
        _wait_for(lambda: not any(is_running(pid) for pid in started), 15, "stopped with run")
        for pid in (run, *started):
            assert _temporary_folders(pid) == []
    finally:
        if shell.poll() is None:
            os.killpg(shell.pid, signal.SIGKILL)
        shell.stdout.close()
