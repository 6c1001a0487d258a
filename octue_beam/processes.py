"""Process lifetimes: stopping a subprocess with everything it started, making one die with its parent, telling
whether a process is still the one we knew, and removing the temporary folders of processes that are gone.

Services, emulators and test servers are started with `start_new_session=True`, so each runs in its own process
group (its pid is the group id) and can be stopped with all its children (Java's, Beam's workers) in one place.
Being in their own group, they would outlive a parent that is killed outright (SIGKILL gives it no chance to stop
them): `die_with_parent()` is the `preexec_fn` that has Linux kill them when their parent goes.
"""

import ctypes
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1
#: How the temporary folders of a process are named (`octue_beam.resources.cache`, the emulators' data folders).
TEMPORARY_FOLDER_PREFIX = "octue-beam-"
_TEMPORARY_FOLDER = re.compile(r"octue-beam-(\d+)-")


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


def _libc_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_prctl = _libc_prctl()


def die_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` for `subprocess.Popen` that makes the new process get SIGKILL when the thread that starts it
    ends, i.e. when its parent process dies, even by SIGKILL (Linux's parent-death signal); None elsewhere.

    The signal survives `exec` (the Pub/Sub emulator's launcher script execs Java, so Java itself gets it), but not
    `fork`: a process that forks must pass it on itself. Linux ties it to the starting *thread*: start long-lived
    processes from the main thread (or one that outlives them).
    """
    if _prctl is None:
        return None
    prctl, parent = _prctl, os.getpid()

    def set_parent_death_signal() -> None:  # runs in the child between fork and exec: no locks, no imports
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the signal was set
            os.kill(os.getpid(), signal.SIGKILL)

    return set_parent_death_signal


def process_identity(pid: int) -> str | None:
    """`"<pid>-<start time>"` of a running process (its start time in clock ticks after boot, from /proc, so that a
    reused pid is not mistaken for it; `"<pid>-0"` where /proc is missing); None if no such process runs."""
    if not is_running(pid):
        return None
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return f"{pid}-{stat.read().rsplit(')', 1)[1].split()[19]}"
    except (OSError, IndexError):
        return f"{pid}-0"


def identity_is_running(identity: str) -> bool:
    """Whether the process of a `process_identity` still runs (and is the same process)."""
    try:
        pid = int(identity.split("-", 1)[0])
    except ValueError:
        return False
    current = process_identity(pid)
    return current is not None and (current == identity or identity.endswith("-0") or current.endswith("-0"))


def is_running(pid: int) -> bool:
    """Whether a process with this pid runs (a zombie waiting to be reaped does not count)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def remove_temporary_folders(pid: int) -> None:
    """Remove the temporary folders of process `pid` (`<tmp>/octue-beam-<pid>-*`), e.g. after it was killed."""
    for folder in glob.glob(os.path.join(tempfile.gettempdir(), f"{TEMPORARY_FOLDER_PREFIX}{pid}-*")):
        shutil.rmtree(folder, ignore_errors=True)


def remove_leftover_temporary_folders() -> list[int]:
    """Remove this user's `<tmp>/octue-beam-<pid>-*` folders whose process no longer runs (left by processes that
    were killed, which runs no cleanup); return those pids."""
    gone = set()
    for folder in glob.glob(os.path.join(tempfile.gettempdir(), f"{TEMPORARY_FOLDER_PREFIX}*-*")):
        match = _TEMPORARY_FOLDER.match(os.path.basename(folder))
        try:
            mine = os.stat(folder).st_uid == os.getuid()
        except OSError:
            continue
        if match and mine and not is_running(int(match.group(1))):
            gone.add(int(match.group(1)))
            shutil.rmtree(folder, ignore_errors=True)
    return sorted(gone)
