"""What `octue-beam run` does locally: start the emulators, run the service's pipeline in a child process and keep
it running.

`run` itself stays small (it never imports Beam). It loads the service (and its `--with` companions) to check
them, so that a broken octue.yaml, twine or app is reported before anything starts; it starts the emulators that
are needed (the storage emulator only when a service or the `--ask` question can use Cloud Storage:
`needs_storage`) and uploads the local datasets of an `--ask-manifest` to the storage emulator (`cli.manifests`); then
it starts the pipeline process (`python -m octue_beam run ... --control-fd N`, `cli.serving.serve_pipeline`),
which builds and runs the pipeline and reports on the control pipe when it is ready and what it serves. `run`
prints the ready message from that report with the example question of `cli.examples`, serves `--with`
companions, asks the `--ask` question (printing what `ask` prints, `cli.answers`), and watches the pipeline
process, whose stdout is this process's stderr (stdout holds the `--ask` answer only):

- When it dies (an app's `os._exit`, a segfault, the OOM killer, SIGKILL, or the pipeline failing because Pub/Sub
  went away), every question it had told its parent it was answering gets an `exception` (`ServiceStopped`) at
  once, from the in-flight journal the process kept (`octue_beam.answering.journal`), so each parent learns within
  seconds instead of after its heartbeat timeout. Then a new pipeline process starts: when the Pub/Sub emulator
  does not answer, `run` waits for it (saying so once; an emulator it started itself and that died is started
  again on the same port), and the new process creates the topic and subscription again if they are missing.
- A pipeline process that dies at once again and again (before it is ready, or soon after with no question in
  flight) is given up on after `MAX_QUICK_FAILURES` tries in a row, with a message; deaths while answering
  questions are paid for by those questions and never end the service.
- On start, `run` answers the questions left in the journals of `run` commands that were killed (SIGKILL gives
  them no chance to), and removes the temporary folders of octue_beam processes that are gone.
- SIGINT and SIGTERM stop it (SIGINT too when a script started it in the background, where the shell ignores
  SIGINT): the pipeline process is stopped, the questions it was answering get an `exception`, the emulators stop.
  The pipeline process, the emulators and the companions die with `run` even if it is killed outright (Linux's
  parent-death signal, `octue_beam.processes.die_with_parent`).

With `--record-events DIR`, the event recorder (`python -m octue_beam record-events`, `cli.record_events`) runs
beside the services in a subprocess of its own, on the run's topic and emulators: started once the first pipeline
process is ready (and ready itself before the ready message and any `--ask`), stopped last, after the services, so
that it records the exceptions `run` sends as it stops.

The topic and subscription are created by the pipeline process (`cli.serving`), each time one starts.
"""

import argparse
import json
import logging
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
import traceback
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent import futures
from typing import NoReturn, TextIO

from octue_beam.answering.journal import JOURNAL_VARIABLE, Journal, claim_abandoned, remove_folder, run_folder
from octue_beam.cli.answers import answer_json, failure_message, log_monitor_message, print_answer
from octue_beam.cli.arguments import CommandError, load_json_argument
from octue_beam.cli.examples import ExampleQuestion, example_question
from octue_beam.cli.manifests import upload_local_datasets
from octue_beam.cli.record_events import RecorderProcess
from octue_beam.cli.signals import stop_signals_as_keyboard_interrupt
from octue_beam.cli.warm_start import WarmProcess, start_pipeline_process
from octue_beam.emulators.local import LocalEmulators, local_emulators
from octue_beam.emulators.services import READY, LocalService
from octue_beam.environment import pubsub_emulator_host
from octue_beam.exceptions import EmulatorNotFound, EmulatorStartError, QuestionTimeout, ServiceStopped
from octue_beam.processes import (
    process_identity,
    remove_leftover_temporary_folders,
    remove_temporary_folders,
    stop_process_group,
)
from octue_beam.resources import cache
from octue_beam.service.children import serving_projects
from octue_beam.service.configuration import ServiceLocation, locate_services
from octue_beam.service.loading import Service, load_service

logger = logging.getLogger(__name__)

#: Seconds a pipeline process may take to report that it is ready (Beam's import, loading the service, the pull).
START_TIMEOUT = 600.0
#: A pipeline process that dies within this many seconds of being ready, with no question in flight, died at once.
QUICK_DEATH_SECONDS = 10.0
#: Give up after this many pipeline processes in a row died at once (or never became ready).
MAX_QUICK_FAILURES = 3
MAX_RESTART_DELAY = 30.0
RESTARTED = "is ready again"


class StartFailed(Exception):
    """The first pipeline process exited before it was ready (it printed why); `code` is its exit code."""

    def __init__(self, code: int) -> None:
        super().__init__(f"The pipeline process exited with code {code} before it was ready.")
        self.code = code


def supervise(args: argparse.Namespace, warm: WarmProcess | None = None) -> NoReturn:
    """Serve locally until interrupted (or until the `--ask` question is answered), then stop everything and exit.

    `warm`, if given, is the first pipeline process, started as early as can be (`cli.run` starts it before importing
    this module), importing Beam while this process checks the services and starts the emulators; it is told what to
    run when it is needed (`cli.warm_start`)."""
    try:
        code = _supervise(args, warm)
    finally:
        if warm is not None:
            warm.discard()  # unless it became the pipeline process
    _exit(code)


def _supervise(args: argparse.Namespace, warm: WarmProcess | None) -> int:
    """Serve until interrupted (or until the `--ask` question is answered), stop everything; the exit code."""
    question = _question_to_ask(args)
    service, *companions = load_served_services(args)
    storage = needs_storage([service, *companions], question)
    main, others = served_services(args)
    args.service = main.name  # the pipeline process serves this one (the first of several); the others are companions
    example = example_question(service.directory, service.twine.to_primitive())
    remove_leftover_temporary_folders()
    code = 0
    with stop_signals_as_keyboard_interrupt():
        try:
            with local_emulators(args.project, storage=storage) as local:
                if question is not None:
                    question["input_manifest"] = upload_local_datasets(question["input_manifest"], "--ask-manifest")
                supervisor = Supervisor(args, local, warm)
                recorder = None
                try:
                    report = supervisor.start()
                    recorder = _launch_recorder(args, report)
                    companions = _start_companions(serving_projects(main, others, report["project"]), report)
                    try:
                        _wait_for_recorder(recorder)
                        stream = sys.stderr if question is not None else sys.stdout
                        _print_ready(report, local, example, stream=stream, recorder=recorder, storage=storage)
                        supervisor.answer_abandoned_in_background()
                        if question is None:
                            code = supervisor.watch()
                        else:
                            code = _ask_while_watching(supervisor, report, question, args)
                    finally:
                        _stop_companions(companions)
                finally:
                    supervisor.stop()
                    if recorder is not None:  # last: it records the exceptions the supervisor sent as it stopped
                        recorder.stop()
        except KeyboardInterrupt:
            print("Stopping the service.", file=sys.stderr)
            code = 0
        except StartFailed as failed:
            code = failed.code or 1
    return code


def served_services(args: argparse.Namespace) -> tuple[ServiceLocation, list[ServiceLocation]]:
    """The service the run's pipeline process serves and the companions: the other services of SERVICE_DIR when its
    octue.yaml lists several and no `--service` chooses one, then every service of each `--with` folder."""
    main, *others = locate_services(args.service_dir, getattr(args, "service", None))
    for folder in args.companions:
        others += locate_services(folder)
    return main, others


def check_services(args: argparse.Namespace) -> Service:
    """Load every service the run serves once, before anything starts, so that a broken octue.yaml, twine.json or
    app is reported at once (credentials are the pipeline process's business); return the main service."""
    return load_served_services(args)[0]


def load_served_services(args: argparse.Namespace) -> list[Service]:
    """Every service the run serves, loaded and checked (see `check_services`): the main one first."""
    main, others = served_services(args)
    service = load_service(
        main.directory, revision_tag=args.revision_tag, check_credentials=False, service_name=main.name
    )
    return [service, *(load_service(other.directory, check_credentials=False, service_name=other.name)
                       for other in others)]


def needs_storage(services: list[Service], question: dict | None = None) -> bool:
    """Whether a local run needs Cloud Storage, so that `run` starts the storage emulator (about 23 MiB and a
    process): when a served service's twine has a manifest strand (input, output or configuration manifest), its
    octue.yaml has a configuration manifest, an `output_location`, a `diagnostics_cloud_path` or children (whose
    answers may carry datasets), or the `--ask` question has an input manifest.

    Otherwise no question to these services can carry a dataset: their twines refuse a manifest they have no strand
    for (`StrandNotFound`, the question's exception) whatever is running, so nothing is lost by not starting it. An
    app that reads or writes Cloud Storage on its own (e.g. a `gs://` path in its input values) without declaring
    any of these gets the Cloud Storage client's error instead; set STORAGE_EMULATOR_HOST (a storage emulator of
    your own) to give it one."""
    if question is not None and question.get("input_manifest") is not None:
        return True
    for service in services:
        configuration = service.configuration
        if service.twine.available_manifest_strands or service.children:
            return True
        if configuration.configuration_manifest or configuration.output_location:
            return True
        if configuration.diagnostics_cloud_path:
            return True
    return False


class PipelineProcess:
    """One pipeline process: `run ... --control-fd N` in its own process group, killed if this process dies;
    `report` is what it said when it was ready."""

    def __init__(self, command: list[str], environment: dict[str, str], warm: WarmProcess | None = None) -> None:
        process = warm.activate(command, environment) if warm is not None else None
        if process is not None:  # started already, importing Beam meanwhile: now told what to run
            self.process = process
            self._start_reading(warm.read_fd)
            return
        read_fd, write_fd = os.pipe()
        try:
            self.process = start_pipeline_process(command, write_fd, stdin=subprocess.DEVNULL, environment=environment)
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        self._start_reading(read_fd)

    def _start_reading(self, read_fd: int) -> None:
        self.started_at = time.monotonic()
        self.ready_at: float | None = None
        self.report: dict | None = None
        self._ready = threading.Event()
        threading.Thread(target=self._read_reports, args=(read_fd,), name="pipeline-reports", daemon=True).start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def _read_reports(self, read_fd: int) -> None:
        with open(read_fd) as control:
            for line in control:
                try:
                    message = json.loads(line)
                except ValueError:
                    continue
                if isinstance(message, dict) and isinstance(message.get("ready"), dict):
                    self.report = message["ready"]
                    self.ready_at = time.monotonic()
                    self._ready.set()

    def wait_until_ready(self, timeout: float = START_TIMEOUT) -> bool:
        """True once the process reports it is ready; False if it exits (or is stopped after `timeout` s) first."""
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.2):
            if self.process.poll() is not None:
                return False
            if time.monotonic() > deadline:
                print(f"Pipeline process {self.pid} not ready within {timeout:g} s: stopping it.", file=sys.stderr)
                self.stop()
                return False
        return True

    def wait(self, timeout: float) -> int | None:
        """Its exit code, or None if it still runs after `timeout` seconds."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        """SIGTERM it (it cancels the pipeline and leaves), SIGKILL it if it has not left within 10 s."""
        stop_process_group(self.process, 10, 5)
        remove_temporary_folders(self.pid)

    def lived(self) -> float:
        """Seconds since it was ready (or started, if it never was)."""
        return time.monotonic() - (self.ready_at or self.started_at)

    def exit_description(self) -> str:
        code = self.process.poll()
        if code is None:
            return "is still running"
        if code < 0:
            try:
                return f"was killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"was killed by signal {-code}"
        return f"exited with code {code}"


class Supervisor:
    """Keeps one pipeline process of the service running; answers what a dead one had in flight (see the module
    docstring). Processes are started from the thread that calls `start` and `watch` (the main thread: Linux ties
    the parent-death signal to the starting thread)."""

    def __init__(self, args: argparse.Namespace, local: LocalEmulators, warm: WarmProcess | None = None) -> None:
        self.local = local
        self._warm = warm
        self.command = _pipeline_command(args, args.project or local.project)
        self.identity = process_identity(os.getpid()) or f"{os.getpid()}-0"
        self.journal = _open_journal(self.identity)
        self.process: PipelineProcess | None = None
        self.report: dict = {}
        self._quick_failures = 0

    @property
    def sruid(self) -> str:
        return self.report.get("sruid", "the service")

    def _environment(self) -> dict[str, str]:
        environment = dict(os.environ)
        if self.journal:
            environment[JOURNAL_VARIABLE] = self.journal
        return environment

    def _spawn(self) -> PipelineProcess:
        warm, self._warm = self._warm, None  # the first process only
        return PipelineProcess(self.command, self._environment(), warm)

    def start(self) -> dict:
        """Start the first pipeline process and wait until it is ready; return its report. StartFailed if it exits
        first: nothing has ever worked, so this is a configuration error it has printed, not a crash to outlive."""
        self.process = self._spawn()
        if not self.process.wait_until_ready():
            code = self.process.process.wait()
            self._forget(self.process)
            self.process = None
            raise StartFailed(code)
        self.report = self.process.report or {}
        return self.report

    def watch(self, until: Callable[[], bool] = lambda: False, poll: float = 0.5) -> int:
        """Keep a pipeline process running until `until()` is true (0) or one cannot be kept running (1)."""
        while not until():
            if self.process.wait(poll) is None:
                continue
            if not self._replace():
                return 1
        return 0

    def _replace(self) -> bool:
        """After the pipeline process died: answer its questions in flight, start another (False: given up)."""
        dead = self.process
        lived = dead.lived()
        print(
            f"The pipeline process of {self.sruid} (pid {dead.pid}) {dead.exit_description()}; the questions it was "
            f"answering get an exception and a new process starts.",
            file=sys.stderr,
            flush=True,
        )
        in_flight = self._answer_in_flight(
            f"The service {self.sruid} stopped while answering this question: its pipeline process "
            f"{dead.exit_description()} (an app may have called os._exit, crashed the interpreter or run out of "
            f"memory, or the process was killed). A new process serves the service: ask again."
        )
        self._forget(dead)
        if lived > QUICK_DEATH_SECONDS:
            self._quick_failures, delay = 0, 0.0
        elif in_flight:  # a question killed it: that question paid for it; never counted, but not restarted in a spin
            delay = 1.0
        else:
            self._quick_failures += 1
            delay = min(MAX_RESTART_DELAY, 2.0**self._quick_failures)
        while True:
            if self._quick_failures >= MAX_QUICK_FAILURES:
                print(
                    f"octue-beam run: the pipeline process of {self.sruid} died at once {self._quick_failures} times "
                    f"in a row (the last one {dead.exit_description()}); giving up. Its output is above.",
                    file=sys.stderr,
                    flush=True,
                )
                return False
            self._wait_for_pubsub()
            time.sleep(delay)
            process = self.process = self._spawn()
            if process.wait_until_ready():
                print(f"Service {self.sruid} {RESTARTED} (process {process.pid}).", file=sys.stderr, flush=True)
                return True
            process.process.wait()
            dead = process
            self._answer_in_flight(f"The service {self.sruid} stopped while answering this question.")
            self._forget(process)
            if not self._pubsub_answers():
                delay = 0.0  # Pub/Sub went away again: wait for it, this does not count
                continue
            self._quick_failures += 1
            delay = min(MAX_RESTART_DELAY, 2.0**self._quick_failures)

    def _answer_in_flight(self, message: str) -> int:
        if not self.journal:
            return 0
        answered = _answer_journaled(self.journal, ServiceStopped(message))
        if answered:
            print(f"Answered {answered} question(s) in flight with ServiceStopped.", file=sys.stderr, flush=True)
        return answered

    def _forget(self, process: PipelineProcess) -> None:
        remove_temporary_folders(process.pid)

    def _wait_for_pubsub(self) -> None:
        """Return once Pub/Sub answers, restarting the emulators started here that died; say once that it waits."""
        waiting_since = None
        delay = 0.5
        while True:
            try:
                self.local.restart_stopped()
            except (EmulatorStartError, EmulatorNotFound) as error:
                logger.debug("Could not restart an emulator yet: %s", error)
            if self._pubsub_answers():
                if waiting_since is not None:
                    print(
                        f"The Pub/Sub emulator on {pubsub_emulator_host()} answers again after "
                        f"{time.monotonic() - waiting_since:.0f} s.",
                        file=sys.stderr,
                        flush=True,
                    )
                return
            if waiting_since is None:
                waiting_since = time.monotonic()
                print(
                    f"The Pub/Sub emulator on {pubsub_emulator_host()} does not answer: waiting for it; {self.sruid} "
                    f"answers again once it is back.",
                    file=sys.stderr,
                    flush=True,
                )
            time.sleep(delay)
            delay = min(2 * delay, 5.0)

    def _pubsub_answers(self) -> bool:
        """Whether the Pub/Sub emulator in use answers requests (the real Pub/Sub is assumed to)."""
        host = pubsub_emulator_host()
        if not host:
            return True
        project = self.report.get("project") or self.local.project
        try:
            with urllib.request.urlopen(f"http://{host}/v1/projects/{project}/topics", timeout=2):
                return True
        except urllib.error.HTTPError as error:
            return error.code < 500
        except (OSError, ValueError):
            return False

    def answer_abandoned_in_background(self) -> None:
        """Answer, in a thread, the questions in flight of `run` commands that were killed."""
        threading.Thread(target=self._answer_abandoned, name="abandoned-journals", daemon=True).start()

    def _answer_abandoned(self) -> None:
        for folder in claim_abandoned(self.identity):
            try:
                answered = _answer_journaled(
                    folder,
                    ServiceStopped(
                        "The service stopped while answering this question: the `octue-beam run` serving it was "
                        "killed (found by the next `run`). Ask again."
                    ),
                )
                if answered:
                    print(f"Answered {answered} question(s) left by a killed run with ServiceStopped.", file=sys.stderr)
            except Exception:  # never stops the service
                logger.exception("Could not answer the questions left in %s.", folder)
            remove_folder(folder)

    def stop(self) -> None:
        """Stop the pipeline process, answer its questions in flight (`ServiceStopped`), remove the journal."""
        process, self.process = self.process, None
        if process is not None:
            process.stop()
        if self.journal:
            self._answer_in_flight(f"The service {self.sruid} was stopped while answering this question.")
            remove_folder(self.journal)


def _open_journal(identity: str) -> str | None:
    """This run's journal folder, created; None (nothing journaled) if it cannot be."""
    folder = run_folder(identity)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as error:
        logger.warning("No in-flight journal (%s): a dying pipeline process's questions will not be answered.", error)
        return None
    return folder


def _pipeline_command(args: argparse.Namespace, project: str | None) -> list[str]:
    """The `run` command of the pipeline process (`--control-fd` is added per process)."""
    command = [sys.executable, "-m", "octue_beam", "--log-level", str(getattr(args, "log_level", "INFO"))]
    if getattr(args, "debug", False):
        command.append("--debug")
    command += ["run", os.path.abspath(args.service_dir), "--runner", args.runner]
    if args.revision_tag:
        command += ["--revision-tag", args.revision_tag]
    if getattr(args, "service", None):
        command += ["--service", args.service]
    if project:
        command += ["--project", project]
    return command + list(args.pipeline_args)


def _question_to_ask(args: argparse.Namespace) -> dict | None:
    """The `--ask` question's inputs (`--ask-manifest` alone asks with no input values), read before anything
    starts so that bad JSON fails fast."""
    if args.ask is None and args.ask_manifest is None:
        return None
    return {
        "input_values": load_json_argument(args.ask, "--ask"),
        "input_manifest": load_json_argument(args.ask_manifest, "--ask-manifest"),
    }


def _start_companions(placements: list[tuple[ServiceLocation, str]], report: dict) -> list[LocalService]:
    """Serve each `(service, project)` of `placements` (`service.children.serving_projects`: wherever the run's
    services ask them) in a subprocess on the same topic and emulators; wait until all are ready.
    They are launched from this (the main) thread, so that they die with this process."""
    companions = [
        LocalService(
            location.directory,
            topic_name=report["topic_name"],
            environment={"GOOGLE_CLOUD_PROJECT": project},
            die_with_parent=True,
            service_name=location.name,
        )
        for location, project in placements
    ]
    try:
        for companion, (location, project) in zip(companions, placements, strict=True):
            print(f"Starting {companion.sruid} from {location.directory} in project {project} ...", file=sys.stderr,
                  flush=True)
            companion.launch()
        with futures.ThreadPoolExecutor(max_workers=max(1, len(companions))) as pool:
            for started in [pool.submit(companion.wait_until_ready) for companion in companions]:
                started.result()
    except BaseException:
        _stop_companions(companions)
        raise
    return companions


def _launch_recorder(args: argparse.Namespace, report: dict) -> RecorderProcess | None:
    """With `--record-events DIR`: start the event recorder on the run's topic and project (not waiting for it),
    from this (the main) thread, so that it dies with this process; its output goes to stderr."""
    if not getattr(args, "record_events", None):
        return None
    return RecorderProcess(
        args.record_events,
        project=report["project"],
        topic_name=report["topic_path"],
        log_level=str(getattr(args, "log_level", "INFO")),
        echo=sys.stderr,
        die_with_parent=True,
    ).launch()


def _wait_for_recorder(recorder: RecorderProcess | None) -> None:
    """Wait until the recorder reads the topic (before anything is asked); a recorder that cannot start stops the
    run with its output."""
    if recorder is None:
        return
    try:
        recorder.wait_until_ready()
    except RuntimeError as error:
        raise CommandError(str(error)) from None


def _stop_companions(companions: list[LocalService]) -> None:
    with futures.ThreadPoolExecutor(max_workers=max(1, len(companions))) as pool:
        list(pool.map(lambda companion: companion.stop(), companions))


def _ask_while_watching(supervisor: Supervisor, report: dict, question: dict, args: argparse.Namespace) -> int:
    """Ask the `--ask` question in a thread while the pipeline process is watched (if it dies, the question gets
    its `exception` at once); the question's exit code, or 1 if the service could not be kept running."""
    outcome: dict[str, int] = {}
    debug = bool(getattr(args, "debug", False))
    asking = threading.Thread(
        target=lambda: outcome.setdefault("code", _ask_once(report, question, args.ask_timeout, debug)),
        name="ask",
        daemon=True,
    )
    asking.start()
    if supervisor.watch(until=lambda: not asking.is_alive()):
        return 1
    return outcome.get("code", 1)


def _answer_journaled(folder: str, error: BaseException) -> int:
    """`answering.stopped.answer_in_flight`, whose Pub/Sub client is imported only when the journal in `folder` holds
    a question: the supervisor does not load it (half its memory) to find that none was in flight."""
    if not Journal.holds_entries(folder):
        return 0
    from octue_beam.answering.stopped import answer_in_flight

    return answer_in_flight(folder, error)


def _ask_once(report: dict, question: dict, timeout: float, debug: bool = False) -> int:
    """Ask the service one question and print the answer as JSON (or the error in one line, as `ask` does, with
    the traceback when `debug`); 0 on a result, 1 otherwise."""
    sruid = report["sruid"]
    asked = f"input values {json.dumps(question['input_values'])}"
    manifest = question["input_manifest"]
    if isinstance(manifest, dict):
        asked += f" and an input manifest of the datasets {sorted(manifest.get('datasets') or {})}"
    print(f"Asking {sruid} with {asked}.", file=sys.stderr, flush=True)
    # The Pub/Sub client, imported only for --ask: without it the supervisor is half the size while it serves.
    from octue_beam.asking import ask
    from octue_beam.asking.session import close_listeners

    try:
        answer, question_uuid = ask(
            sruid,
            question["input_values"],
            question["input_manifest"],
            timeout=timeout,
            project=report["project"],
            topic_name=report["topic_name"],
            subscribe_to_logs=False,  # its logs are on this terminal already: the pipeline process's stderr
            handle_monitor_message=log_monitor_message,
        )
    except Exception as error:  # noqa: BLE001 - reported as the command's one-line error
        if isinstance(error, QuestionTimeout):
            message = str(error)
        else:
            message = failure_message(sruid, error) or f"{type(error).__name__}: {error}"
        if debug:
            traceback.print_exc()
        print(f"octue-beam run: {message}", file=sys.stderr, flush=True)
        if not debug:
            print("(run with --debug for the full traceback)", file=sys.stderr, flush=True)
        return 1
    finally:
        close_listeners()  # delete the answer subscription before the emulators stop (exit skips atexit)
    print_answer(answer_json(question_uuid, answer.get("output_values"), answer.get("output_manifest")))
    return 0


def _exit(code: int) -> NoReturn:
    """Leave at once (everything started here was stopped): the `--ask` thread may still wait on a dead service.
    The temporary folder goes first: `os._exit` skips atexit."""
    sys.stdout.flush()
    sys.stderr.flush()
    cache.clear()
    logging.shutdown()
    os._exit(code)


def _print_ready(report: dict, local: LocalEmulators, example: ExampleQuestion, stream: TextIO | None = None,
                 recorder: RecorderProcess | None = None, storage: bool = True) -> None:
    """Say what runs where and how to ask it (on stderr when stdout is for an `--ask` answer); the last line says
    `is ready`, which `LocalService` waits for."""
    stream = stream or sys.stdout
    environment = {}
    if os.environ.get("PUBSUB_EMULATOR_HOST"):
        environment["PUBSUB_EMULATOR_HOST"] = os.environ["PUBSUB_EMULATOR_HOST"]
    if os.environ.get("STORAGE_EMULATOR_HOST"):
        environment["STORAGE_EMULATOR_HOST"] = os.environ["STORAGE_EMULATOR_HOST"]
    environment["GOOGLE_CLOUD_PROJECT"] = report["project"]
    if os.environ.get("TWINED_SERVICES_TOPIC_NAME"):
        environment["TWINED_SERVICES_TOPIC_NAME"] = os.environ["TWINED_SERVICES_TOPIC_NAME"]
    prefix = " ".join(f"{key}={shlex.quote(value)}" for key, value in environment.items())
    started = ", ".join(local.started) or "nothing (using what is configured)"
    if not storage and not os.environ.get("STORAGE_EMULATOR_HOST"):
        started += " (no storage emulator: no service here uses manifests or Cloud Storage)"
    sruid = report["sruid"]
    print(
        f"Service {sruid}: answering questions from {report['subscription_path']} on {report['runner']}.", file=stream
    )
    print(f"  SRUID: {sruid}", file=stream)
    print(f"  emulators started here: {started}", file=stream)
    print(f"  pipeline process: {report.get('pid')} (restarted if it dies)", file=stream)
    if recorder is not None:
        print(
            f"  event recorder: every question and event to {recorder.store} (process {recorder.pid}); read them "
            f"with python -m octue_beam events get --store {shlex.quote(recorder.store)}",
            file=stream,
        )
    print(f"  Ask it from another shell ({example.source}):", file=stream)
    ask_command = f"{prefix} python -m octue_beam ask {sruid} {example.command_line}".rstrip()
    if example.folder:
        ask_command = f"cd {shlex.quote(example.folder)} && {ask_command}"
    print(f"    {ask_command}", file=stream)
    print(
        f"Service {sruid} {READY} (stop it with Ctrl-C, or kill -INT {os.getpid()} or kill -TERM {os.getpid()}).",
        flush=True,
        file=stream,
    )


__all__ = [
    "MAX_QUICK_FAILURES", "RESTARTED", "PipelineProcess", "StartFailed", "Supervisor", "check_services",
    "load_served_services", "needs_storage", "supervise",
]
