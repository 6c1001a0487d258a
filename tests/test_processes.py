import signal
import subprocess
import sys
import time

from octue_beam.processes import stop_process_group


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
