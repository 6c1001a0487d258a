"""Serving a service locally in a subprocess: the run command's companions and tests.

`LocalService` serves a service with `python -m octue_beam run SERVICE_DIR --runner DirectRunner` in its own process
group, so tests (and the run command's companion services) can ask it real questions over the (emulated) Pub/Sub.
"""

import os
import subprocess
import sys
import threading
import time
import uuid
from typing import Any

from octue_beam.messaging.sruid import to_pub_sub_form
from octue_beam.processes import die_with_parent, stop_process_group
from octue_beam.service.configuration import locate_services
from octue_beam.service.loading import load_service

READY = "is ready"


class LocalService:
    """Serve the service in `service_dir` on its own services topic and subscription until `stop()` (or the end of
    a `with`), so services served one after another never read each other's questions.

    The subprocess inherits the environment (so `PUBSUB_EMULATOR_HOST`, `STORAGE_EMULATOR_HOST` and
    `GOOGLE_CLOUD_PROJECT` of running emulators); `extra_args` are options of the `run` command (e.g.
    `"--heartbeat_interval", "1"`). `ask(...)` asks it a question with `octue_beam.ask`.

    Options: `topic_name` (default: a new `test.services.<suffix>`); `revision_tag` (the `run` command's
    `--revision-tag`); `service_name` (the `run` command's `--service`: one service of a folder whose octue.yaml
    lists several; without it such a folder's services are all served, and `sruid` is the first one's);
    `environment`, variables set for the subprocess on top of the inherited ones, where `None` removes a variable
    (e.g. `{"STORAGE_EMULATOR_HOST": None}` lets the `run` command start its own storage emulator); `cwd`, the
    subprocess's working directory (default: the current one); `die_with_parent`, whether the service is killed when
    this process dies (Linux; launch it from the main thread then, see `octue_beam.processes.die_with_parent`).
    `start()` launches and waits until the service is ready; `launch()` and
    `wait_until_ready()` do the two halves, so several services can start at the same time.
    """

    def __init__(self, service_dir: str | os.PathLike, *extra_args: str, topic_name: str | None = None,
                 revision_tag: str | None = None, environment: dict[str, str | None] | None = None,
                 cwd: str | os.PathLike | None = None, die_with_parent: bool = False,
                 service_name: str | None = None) -> None:
        self.service_dir = os.path.abspath(os.fspath(service_dir))
        self.extra_args = list(extra_args)
        suffix = uuid.uuid4().hex[:8]
        self.topic_name = topic_name or f"test.services.{suffix}"
        self.revision_tag = revision_tag
        self.environment = dict(environment or {})
        self.cwd = None if cwd is None else os.fspath(cwd)
        self.die_with_parent = die_with_parent
        self.service_name = service_name
        locations = locate_services(self.service_dir, service_name)
        self.sruids = [
            load_service(self.service_dir, revision_tag=revision_tag, check_credentials=False, service_name=name).sruid
            for _, name in locations
        ]
        self.sruid = self.sruids[0]
        if not any(argument.split("=")[0] == "--subscription" for argument in self.extra_args):
            self.extra_args += ["--subscription", f"{to_pub_sub_form(self.sruid)}.test.{suffix}"]
        self.output: list[str] = []
        self.command: list[str] = []
        self.process: subprocess.Popen | None = None
        self._ready = threading.Event()

    def start(self, timeout: float = 120) -> "LocalService":
        """Start serving and wait until the pipeline is ready (RuntimeError with its output if it is not)."""
        return self.launch().wait_until_ready(timeout)

    def launch(self) -> "LocalService":
        """Start the `run` command in its own process group without waiting for it to be ready."""
        environment = {**os.environ, "TWINED_SERVICES_TOPIC_NAME": self.topic_name, "PYTHONUNBUFFERED": "1"}
        for name, value in self.environment.items():
            if value is None:
                environment.pop(name, None)
            else:
                environment[name] = value
        self.command = [sys.executable, "-m", "octue_beam", "run", self.service_dir, "--runner", "DirectRunner"]
        if self.revision_tag:
            self.command += ["--revision-tag", self.revision_tag]
        if self.service_name:
            self.command += ["--service", self.service_name]
        self.command += self.extra_args
        self.process = subprocess.Popen(
            self.command, cwd=self.cwd, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, text=True, start_new_session=True,
            preexec_fn=die_with_parent() if self.die_with_parent else None,
        )
        threading.Thread(target=self._read, args=(self.process,), daemon=True).start()
        return self

    def wait_until_ready(self, timeout: float = 120) -> "LocalService":
        """Wait until the launched service prints its ready line; stop it and raise RuntimeError (with its output)
        if it exits or `timeout` seconds pass first."""
        if self.process is None:
            raise RuntimeError(f"{self!r} was not launched (or was stopped).")
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.2):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"The service did not start: {' '.join(self.command)}\n" + self.log(40))
        return self

    def _read(self, process: subprocess.Popen) -> None:
        for line in process.stdout:
            self.output.append(line.rstrip("\n"))
            if READY in line:
                self._ready.set()

    def log(self, last: int | None = None) -> str:
        """The service's output so far (its last `last` lines)."""
        lines = self.output if last is None else self.output[-last:]
        return "\n".join(lines)

    def ask(self, input_values: Any = None, input_manifest: Any = None, **kwargs: Any) -> tuple[dict | None, str]:
        """`octue_beam.ask` this service (on its topic, in the environment's project); `(answer, question_uuid)`."""
        kwargs.setdefault("topic_name", self.topic_name)
        kwargs.setdefault("timeout", 120)
        # Imported here: `run` serves its --with companions through this class and loads the Pub/Sub client (half
        # its memory) only when it asks something.
        from octue_beam.asking import ask

        return ask(self.sruid, input_values=input_values, input_manifest=input_manifest, **kwargs)

    def stop(self) -> None:
        """Stop the service and every process it started (its process group). Idempotent."""
        process, self.process = self.process, None
        if process is None:
            return
        stop_process_group(process)

    def __enter__(self) -> "LocalService":
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<LocalService {self.sruid} on topic {self.topic_name!r}>"
