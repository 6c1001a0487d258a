"""Stopping a subprocess together with everything it started.

Services, emulators and test servers are started with `start_new_session=True`, so each runs in its own process
group (its pid is the group id) and can be stopped with all its children (Java's, Beam's workers) in one place.
"""

import os
import signal
import subprocess


def stop_process_group(process: subprocess.Popen, terminate_wait: float = 20, kill_wait: float = 10) -> None:
    """SIGTERM the process group of `process`, wait up to `terminate_wait` s for the process to exit, SIGKILL the
    group if it has not (waiting up to `kill_wait` s), then SIGKILL whatever is left in the group."""
    for sig, wait in ((signal.SIGTERM, terminate_wait), (signal.SIGKILL, kill_wait)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    try:
        os.killpg(process.pid, signal.SIGKILL)  # anything left in the group
    except ProcessLookupError:
        pass
