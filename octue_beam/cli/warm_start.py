"""A pipeline process started before it is known how to run it, so that its imports overlap `run`'s own start.

The pipeline process of a local `run` spends nearly all of its start-up importing Beam (`cli.serving`, 1.5-2 s),
and `run` only starts it once it has checked the services and started the emulators. `WarmProcess` starts it at
once instead: `python -m octue_beam.cli.warm_start` imports `cli.serving` and then waits on its stdin for its
command line and environment (one JSON line, `activate`), which the supervisor sends when it would have started the
process; from there it is the pipeline process `run ... --control-fd N` would have been. The overlap saves the
supervisor's own start-up and, when `run` starts the Pub/Sub emulator, most of the emulator's.

Only the first pipeline process of a run starts warm (a spare kept for restarts would cost the memory of a second
Beam). A warm process whose stdin closes without a command line (the run ended before it was needed) leaves quietly.
"""

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

from octue_beam.cli import main as cli_main
from octue_beam.processes import die_with_parent, stop_process_group


class WarmProcess:
    """A warm pipeline process: its `process` (importing Beam, then waiting on stdin) and the read end of its control
    pipe, whose write end it holds as file descriptor `control_fd`. `label` goes on its command line, only to say
    what it is (`ps`: `python -m octue_beam.cli.warm_start run SERVICE_DIR --control-fd N`)."""

    def __init__(self, label: Sequence[str] = ()) -> None:
        read_fd, write_fd = os.pipe()
        try:
            self.process = start_pipeline_process(
                [sys.executable, "-m", "octue_beam.cli.warm_start", *label], write_fd, stdin=subprocess.PIPE
            )
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        self.read_fd = read_fd
        self.control_fd = write_fd  # its number in the warm process (`pass_fds` keeps numbers)
        self.used = False

    def activate(self, command: Sequence[str], environment: dict[str, str]) -> subprocess.Popen | None:
        """Make it the pipeline process of `command` (the `python -m octue_beam ...` line, without `--control-fd`)
        in `environment`; its Popen, and the caller owns `read_fd` from now on. None if it is gone (it could not
        import Beam, or was killed): it is discarded, and the caller starts a process as usual."""
        line = json.dumps({"argv": [*command[3:], "--control-fd", str(self.control_fd)], "environment": environment})
        try:
            self.process.stdin.write((line + "\n").encode())
            self.process.stdin.close()
        except OSError:  # it exited: nobody reads its stdin
            self.discard()
            return None
        self.used = True
        return self.process

    def discard(self) -> None:
        """Stop it, unused (its stdin closes: it leaves; stopped by signal if it does not)."""
        if self.used:
            return
        self.used = True
        os.close(self.read_fd)
        try:
            self.process.stdin.close()
        except OSError:
            pass
        stop_process_group(self.process, 5, 5)


def start_pipeline_process(
    command: Sequence[str], control_fd: int, *, stdin: int, environment: dict[str, str] | None = None
) -> subprocess.Popen:
    """`command --control-fd N` started as `run` starts a pipeline process: holding the write end `control_fd` of
    its control pipe, in its own session (Ctrl-C reaches `run`, which stops it in order), its prints on stderr (stdout
    holds the `--ask` answer only), and killed if `run` dies."""
    return subprocess.Popen(
        [*command, "--control-fd", str(control_fd)],
        env=environment,
        pass_fds=(control_fd,),
        stdin=stdin,
        stdout=stderr_fd(),
        start_new_session=True,
        preexec_fn=die_with_parent(),
    )


def stderr_fd() -> int | None:
    """The file descriptor of stderr (None, inherit stdout, if stderr has none)."""
    try:
        return sys.stderr.fileno()
    except (AttributeError, ValueError, OSError):
        return None


def _activation(stream: Any) -> dict | None:
    """The command line and environment sent by `WarmProcess.activate`, or None if stdin closed without one."""
    line = stream.readline()
    if not line.strip():
        return None
    return json.loads(line)


def main() -> int:
    """Import the pipeline process's modules, wait for the command line, then be that process."""
    # Imported here, not at the top: `run`'s supervisor imports this module for `WarmProcess` and must not load Beam.
    from octue_beam.cli import serving  # noqa: F401 - the import this process exists to make early

    activation = _activation(sys.stdin)
    if activation is None:
        return 0
    os.environ.clear()
    os.environ.update(activation["environment"])
    sys.argv = [sys.argv[0], *activation["argv"]]  # as the process `python -m octue_beam ...` would see it
    devnull = os.open(os.devnull, os.O_RDONLY)  # stdin as `run` gives a pipeline process: nothing to read
    os.dup2(devnull, 0)
    os.close(devnull)
    return cli_main(activation["argv"])


if __name__ == "__main__":
    raise SystemExit(main())
