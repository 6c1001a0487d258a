"""The Cloud Storage emulator (`gcp-storage-emulator`), started and stopped from Python.

`StorageEmulator()` runs the emulator in memory, either in a thread of this process (default: starts in
milliseconds) or as a subprocess (`mode="subprocess"`, for a server other processes can outlive). While it runs,
`STORAGE_EMULATOR_HOST` points the Google clients (and `octue_beam.storage.client.get_storage_client`) at it; the
previous value is restored on stop.
"""

import atexit
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from typing import Any

try:  # needed in this process by thread mode only (subprocess mode runs it in the child)
    from gcp_storage_emulator.handlers import buckets as emulator_buckets
    from gcp_storage_emulator.server import create_server
except ImportError:  # reported as EmulatorNotFound when a thread-mode emulator starts
    emulator_buckets = create_server = None

from octue_beam.exceptions import EmulatorNotFound, EmulatorStartError
from octue_beam.processes import die_with_parent, stop_process_group
from octue_beam.storage.client import reset_clients

logger = logging.getLogger(__name__)

HOST_VARIABLE = "STORAGE_EMULATOR_HOST"
_START_TIMEOUT = 30.0


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class StorageEmulator:
    """An in-memory Cloud Storage emulator on `host:port` (port 0 = pick a free port), optionally with a bucket.

    Use `start()`/`stop()` or `with StorageEmulator() as emulator:`. `endpoint` is `http://host:port`. In subprocess
    mode with `die_with_parent` (default), the emulator is killed when this process dies (Linux): start it from the
    main thread, or from a thread that outlives it.
    """

    def __init__(
        self,
        host: str = "localhost",
        port: int = 0,
        default_bucket: str | None = None,
        mode: str = "thread",
        *,
        die_with_parent: bool = True,
    ) -> None:
        if mode not in ("thread", "subprocess"):
            raise ValueError(f"mode must be 'thread' or 'subprocess', not {mode!r}.")
        self.host = host
        self.port = port
        self.default_bucket = default_bucket
        self.mode = mode
        self.die_with_parent = die_with_parent
        self._server: Any = None
        self._process: subprocess.Popen | None = None
        self._saved_host: str | None = None
        self._running = False
        self._lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        """`http://host:port` of the running emulator."""
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the emulator was started and (in subprocess mode) its process still runs."""
        return self._running and (self._process is None or self._process.poll() is None)

    def environment(self) -> dict[str, str]:
        """The environment variables that point clients at this emulator."""
        return {HOST_VARIABLE: self.endpoint}

    def start(self) -> "StorageEmulator":
        """Start the emulator and point `STORAGE_EMULATOR_HOST` at it. Returns self."""
        with self._lock:
            if self._running:
                return self
            if self.mode == "thread":
                self._start_thread()
            else:
                self._start_subprocess()
            self._wait_until_ready()
            self._saved_host = os.environ.get(HOST_VARIABLE)
            os.environ[HOST_VARIABLE] = self.endpoint
            self._running = True
            reset_clients()
            atexit.register(self.stop)
        logger.debug("Cloud Storage emulator running at %s.", self.endpoint)
        return self

    def _start_thread(self) -> None:
        if create_server is None:
            raise EmulatorNotFound("gcp-storage-emulator is not installed: `pip install gcp-storage-emulator`.")
        logging.getLogger("gcp_storage_emulator").setLevel(logging.ERROR)
        self._server = create_server(self.host, self.port, in_memory=True, default_bucket=self.default_bucket)
        try:
            self._server.start()
        except OSError as error:
            raise EmulatorStartError(
                f"The Cloud Storage emulator could not listen on {self.host}:{self.port}: {error}"
            ) from error
        if self.port == 0:
            self.port = self._server._api._httpd.server_address[1]

    def _start_subprocess(self) -> None:
        if self.port == 0:
            self.port = _free_port(self.host)
        command = [sys.executable, "-m", "gcp_storage_emulator", "start", "--host", self.host, "--port", str(self.port)]
        command += ["--in-memory", "--quiet"]
        if self.default_bucket:
            command += ["--default-bucket", self.default_bucket]
        self._process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent() if self.die_with_parent else None,
        )

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                code = self._process.returncode
                self._cleanup()
                raise EmulatorStartError(f"The Cloud Storage emulator exited with code {code} while starting.")
            try:
                with urllib.request.urlopen(self.endpoint + "/", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.05)
        self._cleanup()
        raise EmulatorStartError(
            f"The Cloud Storage emulator did not answer at {self.endpoint} within {_START_TIMEOUT} s."
        )

    def stop(self) -> None:
        """Stop the emulator (idempotent), restoring `STORAGE_EMULATOR_HOST`."""
        with self._lock:
            if not self._running:
                self._cleanup()
                return
            self._running = False
            self._cleanup()
            if os.environ.get(HOST_VARIABLE) == self.endpoint:
                if self._saved_host is None:
                    os.environ.pop(HOST_VARIABLE, None)
                else:
                    os.environ[HOST_VARIABLE] = self._saved_host
            reset_clients()
            try:
                atexit.unregister(self.stop)
            except Exception:  # noqa: BLE001
                pass

    def _cleanup(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            server.stop()
            thread = getattr(server, "_api", None)
            if isinstance(thread, threading.Thread):
                threading.Thread.join(thread, timeout=5)
        if self._process is not None:
            process, self._process = self._process, None
            if process.poll() is None:
                stop_process_group(process, 10, 10)

    def wipe(self) -> None:
        """Delete every object and bucket (thread mode only), then recreate the default bucket."""
        if self._server is None:
            raise EmulatorStartError("wipe() needs a running emulator in thread mode.")
        self._server.wipe()
        if self.default_bucket:
            emulator_buckets.create_bucket(self.default_bucket, self._server._storage)

    def __enter__(self) -> "StorageEmulator":
        return self.start()

    def __exit__(self, *args: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<StorageEmulator {self.endpoint} mode={self.mode} running={self._running}>"
