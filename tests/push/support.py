"""Helpers of the push tests: push envelopes as Pub/Sub writes them, WSGI calls, and `serve` in a subprocess."""

import base64
import collections
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from wsgiref.util import setup_testing_defaults

from octue_beam.emulators.pubsub import free_port
from tests.support.paths import REPOSITORY

GATE_APP = """
import os
import time


def run(analysis):
    # Waits until the file named by input_values["gate"] exists: the test decides when the question ends.
    gate = analysis.input_values.get("gate")
    while gate and not os.path.exists(gate):
        time.sleep(0.01)
    analysis.output_values = {"echo": analysis.input_values.get("value")}
"""

GATE_TWINE = {
    "input_values_schema": {
        "type": "object",
        "properties": {"gate": {"type": "string"}, "value": {}},
        "additionalProperties": False,
    },
    "output_values_schema": {"type": "object", "required": ["echo"]},
}


def envelope(data: bytes, attributes: dict[str, str], message_id: str = "1") -> bytes:
    """A push request's body exactly as the Pub/Sub emulator sends it (both spellings of the ID and the time)."""
    message = {
        "data": base64.b64encode(data).decode(),
        "attributes": attributes,
        "messageId": message_id,
        "message_id": message_id,
        "publishTime": "2026-11-30T08:10:19.284Z",
        "publish_time": "2026-11-30T08:10:19.284Z",
    }
    return json.dumps({"message": message, "subscription": "projects/test/subscriptions/push"}).encode()


def call(app, method: str = "POST", path: str = "/", body: bytes = b"") -> tuple[int, str, dict[str, str]]:
    """`(status, body text, headers)` of one WSGI request to `app`."""
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "wsgi.input": io.BytesIO(body)}
    if body:
        environ["CONTENT_LENGTH"] = str(len(body))
    setup_testing_defaults(environ)
    started = {}

    def start_response(status, headers):
        started["status"], started["headers"] = status, dict(headers)

    chunks = app(environ, start_response)
    return int(started["status"].split()[0]), b"".join(chunks).decode(), started["headers"]


def post(url: str, body: bytes, timeout: float = 120) -> tuple[int, str]:
    """`(status, body text)` of a POST over HTTP."""
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


class ServeProcess:
    """`python -m octue_beam serve SERVICE_DIR --port <free port> --services-topic TOPIC ...` in a subprocess (in its
    own process group), its output collected; `stop()` sends SIGTERM to its PID and waits for it to exit."""

    def __init__(self, service_dir, *options: str, topic_name: str, python_options: tuple[str, ...] = ()) -> None:
        self.port = free_port("localhost")
        self.url = f"http://localhost:{self.port}/"
        command = [
            sys.executable, *python_options, "-m", "octue_beam", "serve", str(service_dir),
            "--port", str(self.port), "--host", "127.0.0.1", "--services-topic", topic_name, *options,
        ]
        self.process = subprocess.Popen(
            command,
            cwd=REPOSITORY,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: collections.deque[str] = collections.deque()
        self._condition = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            with self._condition:
                self.lines.append(line.rstrip("\n"))
                self._condition.notify_all()

    @property
    def output(self) -> str:
        with self._condition:
            return "\n".join(self.lines)

    def wait_until_ready(self, timeout: float = 120) -> None:
        """Until GET /health answers 200 (the worker loaded the service); raises if the process exits first."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"serve exited with {self.process.returncode}:\n{self.output[-5000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}health", timeout=5) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            assert time.monotonic() < deadline, f"serve not ready within {timeout} s:\n{self.output[-5000:]}"
            time.sleep(0.1)

    def wait_for_line(self, *parts: str, timeout: float = 60) -> str:
        """The first output line containing every one of `parts` (waiting for it)."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while True:
                for line in self.lines:
                    if all(part in line for part in parts):
                        return line
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"no line with {parts} within {timeout} s:\n{self.output[-5000:]}"
                self._condition.wait(remaining)

    def terminate(self) -> None:
        """SIGTERM, as Cloud Run stops a container."""
        os.kill(self.process.pid, signal.SIGTERM)

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM and wait for the exit code; the process group is killed if it has not exited by then."""
        if self.process.poll() is None:
            self.terminate()
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
            raise AssertionError(f"serve did not exit within {timeout} s of SIGTERM:\n{self.output[-5000:]}") from None
