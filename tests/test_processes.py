import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from octue_beam.processes import (
    die_with_parent,
    identity_is_running,
    is_running,
    process_identity,
    remove_leftover_temporary_folders,
    remove_temporary_folders,
    stop_process_group,
)


def _running(pid: int) -> bool:
    """Whether the process is still running (not gone, not a zombie waiting to be reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_stop_process_group_stops_the_process_and_its_children():
    # The grandchild ignores SIGTERM, so only the final SIGKILL of the group stops it.
    code = (
        "import subprocess, sys; subprocess.Popen([sys.executable, '-c', 'import os, signal, time; "
        "signal.signal(signal.SIGTERM, signal.SIG_IGN); print(os.getpid(), flush=True); time.sleep(60)']).wait()"
    )
    process = subprocess.Popen([sys.executable, "-c", code], start_new_session=True, stdout=subprocess.PIPE, text=True)
    grandchild = int(process.stdout.readline())
    process.stdout.close()
    stop_process_group(process, 5, 5)
    assert process.returncode == -signal.SIGTERM
    deadline = time.monotonic() + 10  # a SIGKILLed process dies at once; the bound only avoids hanging
    while _running(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _running(grandchild)


def test_stop_process_group_of_an_exited_process_is_harmless():
    process = subprocess.Popen([sys.executable, "-c", "pass"], start_new_session=True)
    process.wait()
    stop_process_group(process)
    assert process.returncode == 0


def test_a_process_started_with_die_with_parent_dies_when_its_parent_is_killed():
    """Even by SIGKILL, which gives the parent no chance to stop it (Linux's parent-death signal)."""
    if die_with_parent() is None:
        pytest.skip("no parent-death signal on this platform")
    code = (
        "import subprocess, sys, time; from octue_beam.processes import die_with_parent; "
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'], start_new_session=True, "
        "preexec_fn=die_with_parent()); print(child.pid, flush=True); time.sleep(60)"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    parent.stdout.close()
    assert _running(child)
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while _running(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _running(child)


def test_leftover_temporary_folders_of_processes_that_are_gone_are_removed():
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(gone.stdout)
    dead = tempfile.mkdtemp(prefix=f"octue-beam-{dead_pid}-")
    alive = tempfile.mkdtemp(prefix=f"octue-beam-{os.getpid()}-")
    try:
        assert dead_pid in remove_leftover_temporary_folders()
        assert not os.path.exists(dead) and os.path.isdir(alive)
        remove_temporary_folders(os.getpid())
        assert not os.path.exists(alive)
    finally:
        shutil.rmtree(alive, ignore_errors=True)
        shutil.rmtree(dead, ignore_errors=True)


def test_a_process_identity_tells_a_running_process_from_one_that_is_gone():
    identity = process_identity(os.getpid())
    assert identity_is_running(identity) and is_running(os.getpid())
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    assert process_identity(int(gone.stdout)) is None and not identity_is_running(f"{int(gone.stdout)}-1")
    assert not identity_is_running(f"{os.getpid()}-1")  # the same pid, started at another time: another process
