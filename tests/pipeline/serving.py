"""Running a service pipeline (`python -m octue_beam run ...`) in a subprocess for end-to-end tests."""

import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from octue_beam.processes import stop_process_group

REPOSITORY = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
READY = "is ready"


class ServiceProcess:
    """`python -m octue_beam run SERVICE_DIR --runner DirectRunner ...` in its own process group."""

    def __init__(self, service_dir: str | os.PathLike, *extra_args: str, topic_name: str | None = None) -> None:
        self.service_dir = str(service_dir)
        self.extra_args = list(extra_args)
        self.topic_name = topic_name or f"test.services.{uuid.uuid4().hex[:8]}"
        self.output: list[str] = []
        self.process: subprocess.Popen | None = None
        self._ready = threading.Event()

    def start(self, timeout: float = 90) -> "ServiceProcess":
        """Launch the service and wait until it prints its ready line."""
        return self.launch().wait_until_ready(timeout)

    def launch(self) -> "ServiceProcess":
        environment = {**os.environ, "TWINED_SERVICES_TOPIC_NAME": self.topic_name, "PYTHONUNBUFFERED": "1"}
        environment.pop("STORAGE_EMULATOR_HOST", None)
        command = [sys.executable, "-m", "octue_beam", "run", self.service_dir, "--runner", "DirectRunner", *self.extra_args]
        self.process = subprocess.Popen(
            command,
            cwd=REPOSITORY,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._read, daemon=True).start()
        self._command = command
        return self

    def wait_until_ready(self, timeout: float = 90) -> "ServiceProcess":
        command = self._command
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.2):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"The service did not start: {' '.join(command)}\n" + "\n".join(self.output[-40:]))
        return self

    def _read(self) -> None:
        for line in self.process.stdout:
            self.output.append(line.rstrip("\n"))
            if READY in line:
                self._ready.set()

    def log(self) -> str:
        return "\n".join(self.output)

    def stop(self) -> None:
        """Stop the service and everything it started (its whole process group)."""
        process, self.process = self.process, None
        if process is None:
            return
        stop_process_group(process)
