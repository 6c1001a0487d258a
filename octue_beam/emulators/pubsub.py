"""Google's Pub/Sub emulator, started and stopped from Python.

The emulator is a Java program started by a launcher script (or by gcloud), so it runs in its own process group and
`stop()` kills the whole group. It dies with the process that started it, even when that one is killed outright
(`octue_beam.processes.die_with_parent`: the launcher script execs Java, which keeps the parent-death signal). While
it runs, `PUBSUB_EMULATOR_HOST` points the Google clients at it (restored on stop).
"""

import atexit
import collections
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

from octue_beam.exceptions import EmulatorNotFound, EmulatorStartError
from octue_beam.processes import TEMPORARY_FOLDER_PREFIX, die_with_parent, stop_process_group

ENV_BINARY = "OCTUE_BEAM_PUBSUB_EMULATOR"
DEFAULT_BINARY = "/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator"
READY_LINE = "Server started"

INSTALL_HINT = (
    "Install Google's Pub/Sub emulator (it needs Java 11+): `gcloud components install pubsub-emulator`, or on "
    "Debian/Ubuntu the package `google-cloud-cli-pubsub-emulator`. Or point the environment variable "
    f"{ENV_BINARY} at the `cloud-pubsub-emulator` program, or set PUBSUB_EMULATOR_HOST to an emulator already running."
)


def free_port(host: str = "localhost") -> int:
    """A TCP port that was free a moment ago (bind to port 0 and ask which port the OS chose)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def find_emulator_command() -> list[str]:
    """The command prefix that starts the emulator (without host/port/data-dir arguments).

    Order: env OCTUE_BEAM_PUBSUB_EMULATOR, the Debian/Ubuntu package path, then `gcloud beta emulators pubsub start`
    if gcloud has the component. Raises EmulatorNotFound saying how to install it.
    """
    configured = os.environ.get(ENV_BINARY)
    if configured:
        if not (os.path.isfile(configured) and os.access(configured, os.X_OK)):
            raise EmulatorNotFound(f"{ENV_BINARY}={configured!r} is not an executable file. {INSTALL_HINT}")
        return [configured]
    if os.path.isfile(DEFAULT_BINARY) and os.access(DEFAULT_BINARY, os.X_OK):
        return [DEFAULT_BINARY]
    gcloud = shutil.which("gcloud")
    if gcloud:
        sdk_root = os.path.dirname(os.path.dirname(os.path.realpath(gcloud)))
        component = os.path.join(sdk_root, "platform", "pubsub-emulator", "bin", "cloud-pubsub-emulator")
        if os.path.isfile(component):
            return [gcloud, "beta", "emulators", "pubsub", "start"]
    raise EmulatorNotFound(f"Google's Pub/Sub emulator was not found. {INSTALL_HINT}")


class PubSubEmulator:
    """Runs Google's Pub/Sub emulator in a subprocess.

    >>> with PubSubEmulator() as emulator:
    ...     print(emulator.host_port)  # PUBSUB_EMULATOR_HOST is set meanwhile

    `before_stop(host_port)` is called before the emulator stops, e.g. to close the streaming pulls reading from it
    (`octue_beam.asking.session.close_listeners`) so that none is left on a stopped emulator. With `die_with_parent`
    (default), the emulator is killed when this process dies (Linux): start it from the main thread, or from a
    thread that outlives it. `start()` after `stop()` starts a fresh emulator on the same port.
    """

    def __init__(
        self,
        host: str = "localhost",
        port: int = 0,
        *,
        start_timeout: float = 60.0,
        before_stop: Callable[[str], None] | None = None,
        die_with_parent: bool = True,
    ) -> None:
        self.host = host
        self.port = port
        self.start_timeout = start_timeout
        self.before_stop = before_stop
        self.die_with_parent = die_with_parent
        self._process: subprocess.Popen | None = None
        self._data_dir: str | None = None
        self._output: collections.deque[str] = collections.deque(maxlen=60)
        self._ready = threading.Event()
        self._saved_environment: dict[str, str | None] = {}
        self._lock = threading.Lock()

    @property
    def host_port(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def environment(self) -> dict[str, str]:
        """Environment variables that point Google's clients at this emulator."""
        return {"PUBSUB_EMULATOR_HOST": self.host_port}

    def start(self) -> "PubSubEmulator":
        """Start the emulator and wait until it serves requests; raise EmulatorStartError otherwise.

        With port 0, a free port is chosen; if another program takes it first, up to two other ports are tried.
        """
        choose_port = not self.port
        for attempt in range(3):
            try:
                return self._start_once(choose_port)
            except EmulatorStartError as error:
                port_taken = "already in use" in str(error) or "BindException" in str(error)
                if not (choose_port and port_taken and attempt < 2):
                    raise
                self.port = 0
        raise AssertionError("unreachable")

    def _start_once(self, choose_port: bool) -> "PubSubEmulator":
        with self._lock:
            if self._process is not None:
                return self
            command = find_emulator_command()
            if choose_port:
                self.port = free_port(self.host)
            self._output.clear()
            self._ready.clear()
            self._data_dir = tempfile.mkdtemp(prefix=f"{TEMPORARY_FOLDER_PREFIX}{os.getpid()}-pubsub-")
            command = [*command, f"--host={self.host}", f"--port={self.port}", f"--data-dir={self._data_dir}"]
            self._process = subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
                errors="replace",
                start_new_session=True,  # own process group, so stop() can kill Java's children too
                preexec_fn=die_with_parent() if self.die_with_parent else None,
            )
            atexit.register(self.stop)
            threading.Thread(
                target=self._read_output, args=(self._process,), name="pubsub-emulator-output", daemon=True
            ).start()
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        for key, value in self.environment().items():
            self._saved_environment[key] = os.environ.get(key)
            os.environ[key] = value
        return self

    def _read_output(self, process: subprocess.Popen) -> None:
        assert process.stdout is not None
        try:
            for line in process.stdout:
                self._output.append(line.rstrip("\n"))
                if READY_LINE in line:
                    self._ready.set()
        except (ValueError, OSError):  # the pipe was closed by stop()
            pass

    def _output_tail(self) -> str:
        return "\n".join(list(self._output)[-30:]) or "(no output)"

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while not self._ready.is_set():
            if self._process is None or self._process.poll() is not None:
                code = None if self._process is None else self._process.returncode
                time.sleep(0.2)  # let the reader thread collect the last lines
                raise EmulatorStartError(
                    f"The Pub/Sub emulator exited (code {code}) before it started on {self.host_port}. "
                    f"Its last output:\n{self._output_tail()}"
                )
            if any("BindException" in line or "Address already in use" in line for line in list(self._output)):
                raise EmulatorStartError(
                    f"The Pub/Sub emulator could not listen on {self.host_port}: the port is already in use. "
                    f"Its last output:\n{self._output_tail()}"
                )
            if time.monotonic() > deadline:
                raise EmulatorStartError(
                    f"The Pub/Sub emulator did not print {READY_LINE!r} within {self.start_timeout:.0f} s on "
                    f"{self.host_port}. Its last output:\n{self._output_tail()}"
                )
            self._ready.wait(0.1)
        self._wait_for_client_call(deadline)

    def _wait_for_client_call(self, deadline: float) -> None:
        """Check that a real client request succeeds (the port may open slightly after the log line)."""
        import requests

        last_error: Exception | None = None
        while time.monotonic() < deadline:
            try:
                response = requests.get(f"http://{self.host_port}/v1/projects/octue-beam-probe/topics", timeout=2)
                if response.status_code < 500:
                    return
                last_error = RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")
            except requests.RequestException as error:
                last_error = error
            time.sleep(0.2)
        raise EmulatorStartError(
            f"The Pub/Sub emulator on {self.host_port} did not answer requests within {self.start_timeout:.0f} s "
            f"({last_error}). Its last output:\n{self._output_tail()}"
        )

    def stop(self) -> None:
        """Stop the emulator and every process it started, restore the environment, remove its data. Idempotent."""
        if self._process is not None and self.before_stop is not None:
            try:
                self.before_stop(self.host_port)
            except Exception:  # noqa: BLE001 - stopping must go on
                pass
        with self._lock:
            process, self._process = self._process, None
            if process is not None:
                stop_process_group(process, 5, 5)  # Java's children may outlive the launcher script
                if process.stdout:
                    process.stdout.close()
            for key, value in self._saved_environment.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            self._saved_environment.clear()
            if self._data_dir:
                shutil.rmtree(self._data_dir, ignore_errors=True)
                self._data_dir = None
            self._ready.clear()
        try:
            atexit.unregister(self.stop)
        except Exception:  # noqa: BLE001 - interpreter shutting down
            pass

    def __enter__(self) -> "PubSubEmulator":
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<PubSubEmulator {self.host_port} {'running' if self.running else 'stopped'}>"

