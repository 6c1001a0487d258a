"""`python -m octue_beam run` supervises its pipeline process (octue_beam/cli/supervising.py): a dying app or a
killed pipeline process costs the questions it was answering (each gets a `ServiceStopped` exception at once) and
the service answers again; a killed `run` leaves no process behind and the next `run` answers the questions it left;
a restarted Pub/Sub emulator does not end the service; SIGINT stops a `run` a script started in the background.

Each test is bounded: the parent's heartbeat timeout is set well above the time the journal's answer takes, so that
a `ServiceStopped` (not a `QuestionTimeout`) proves the mechanism without timing anything.
"""

import glob
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent import futures
from pathlib import Path

import pytest

from octue_beam.asking.session import close_listeners
from octue_beam.cli.supervising import RESTARTED
from octue_beam.emulators.pubsub import PubSubEmulator, free_port
from octue_beam.exceptions import ServiceStopped
from octue_beam.messaging.sruid import to_pub_sub_form
from octue_beam.processes import is_running
from octue_beam.testing import LocalService
from tests.support.paths import REPOSITORY
from tests.support.service_dirs import write_service

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process checks read /proc")

APP = """
import os
import time


def run(analysis):
    action = analysis.input_values["action"]
    if action == "exit":
        os._exit(1)  # what no exception handler can catch: the whole process goes
    if action == "sleep":
        if analysis.input_values.get("marker"):  # the test's sign that the question is being answered
            open(analysis.input_values["marker"], "w").close()
        time.sleep(analysis.input_values.get("seconds", 1))
    analysis.output_values = {"action": action}
"""
TWINE = {
    "input_values_schema": {"type": "object", "required": ["action"]},
    "output_values_schema": {"type": "object", "required": ["action"]},
}
# Far above the seconds a journal answer takes, far below an unbounded wait: a ServiceStopped proves the journal.
HEARTBEAT_TIMEOUT = 90
ASK = {"timeout": 150, "maximum_heartbeat_interval": HEARTBEAT_TIMEOUT}


def _service_dir(folder: Path, **configuration) -> Path:
    return write_service(folder, app=APP, twine=TWINE, service={"name": "supervised", **configuration})


#: Cloud Storage in octue.yaml, so that `run` starts the storage emulator too (it starts none for a service that
#: cannot use Cloud Storage: tests/cli/test_lean_serving.py).
USES_STORAGE = {"output_location": "gs://octue-beam-local/outputs"}


def _state(folder: Path) -> dict:
    return {"OCTUE_BEAM_STATE_DIR": str(folder)}


def _children(pid: int) -> list[int]:
    """The running processes whose parent is `pid`."""
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            children.append(int(entry))
    return children


def _command_line(pid: int) -> str:
    with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
        return cmdline.read().replace(b"\0", b" ").decode()


def _pipeline_process(service: LocalService) -> int:
    [pid] = [pid for pid in _children(service.process.pid) if "--control-fd" in _command_line(pid)]
    return pid


def _wait_for(condition, timeout: float, what: str, service: LocalService | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"Not {what} within {timeout} s." + (f"\n{service.log(60)}" if service else ""))
        time.sleep(0.2)


def _restarts(service: LocalService) -> int:
    return sum(RESTARTED in line for line in service.output)


def _journaled(state: Path) -> list[str]:
    return glob.glob(str(state / "journal" / "run-*" / "*.json"))


def _ask_in_background(service: LocalService, input_values: dict) -> futures.Future:
    pool = futures.ThreadPoolExecutor(max_workers=1)
    future = pool.submit(service.ask, input_values, **ASK)
    pool.shutdown(wait=False)
    return future


def _ask_a_long_question(service: LocalService, folder: Path) -> futures.Future:
    """Ask a question whose app sleeps for a minute, in the background; return once the app runs."""
    marker = folder / f"answering-{uuid.uuid4().hex[:8]}"
    asked = _ask_in_background(service, {"action": "sleep", "seconds": 60, "marker": str(marker)})
    _wait_for(marker.exists, 60, "answering", service)
    return asked


@pytest.fixture(scope="module")
def supervised(tmp_path_factory, pubsub_emulator, storage_emulator):
    """One supervised service for the tests that kill its pipeline process, with its journal in its own folder."""
    folder = tmp_path_factory.mktemp("supervised")
    with LocalService(
        _service_dir(folder / "service"), "--heartbeat_interval", "1", environment=_state(folder / "state")
    ) as service:
        yield service


def test_an_app_calling_os_exit_costs_its_question_and_the_service_answers_the_next_one(supervised):
    restarts = _restarts(supervised)
    with pytest.raises(ServiceStopped, match="exited with code 1"):
        supervised.ask({"action": "exit"}, **ASK)
    _wait_for(lambda: _restarts(supervised) > restarts, 120, "restarted", supervised)
    answer, _ = supervised.ask({"action": "echo"}, **ASK)
    assert answer["output_values"] == {"action": "echo"}


def test_sigkill_of_the_pipeline_process_mid_question_answers_it_and_the_service_answers_again(supervised):
    restarts = _restarts(supervised)
    state = Path(supervised.environment["OCTUE_BEAM_STATE_DIR"])
    asked = _ask_a_long_question(supervised, state.parent)
    assert _journaled(state)
    pipeline = _pipeline_process(supervised)
    os.kill(pipeline, signal.SIGKILL)
    with pytest.raises(ServiceStopped, match="killed by SIGKILL"):
        asked.result(timeout=150)
    _wait_for(lambda: _restarts(supervised) > restarts, 120, "restarted", supervised)
    assert not _journaled(state)
    assert not glob.glob(os.path.join(tempfile.gettempdir(), f"octue-beam-{pipeline}-*"))
    answer, _ = supervised.ask({"action": "echo"}, **ASK)
    assert answer["output_values"] == {"action": "echo"}


def test_sigkill_of_run_mid_question_leaves_no_process_and_the_next_run_answers_the_question(
    tmp_path, pubsub_emulator, storage_emulator
):
    """On the session's Pub/Sub emulator (the parent's), with a storage emulator `run` starts itself."""
    service_dir, state = _service_dir(tmp_path / "service", **USES_STORAGE), tmp_path / "state"
    topic, suffix = f"test.services.{uuid.uuid4().hex[:8]}", uuid.uuid4().hex[:8]
    options = {"topic_name": topic, "environment": {**_state(state), "STORAGE_EMULATOR_HOST": None}}
    arguments = ("--heartbeat_interval", "1", "--subscription", f"test-org.supervised.{suffix}")
    killed = LocalService(service_dir, *arguments, **options).start()
    try:
        asked = _ask_a_long_question(killed, tmp_path)
        run = killed.process.pid
        children = _children(run)  # the storage emulator, and the pipeline process
        assert any("gcp_storage_emulator" in _command_line(pid) for pid in children), killed.log(40)
        os.kill(run, signal.SIGKILL)
        _wait_for(lambda: not any(is_running(pid) for pid in children), 15, "stopped with run")
    finally:
        killed.stop()
    with LocalService(service_dir, *arguments, **options) as restarted:
        with pytest.raises(ServiceStopped, match="was killed"):
            asked.result(timeout=150)
        _wait_for(lambda: not _journaled(state), 30, "answered", restarted)
        for pid in (run, *children):
            assert not glob.glob(os.path.join(tempfile.gettempdir(), f"octue-beam-{pid}-*"))
        answer, _ = restarted.ask({"action": "echo"}, **ASK)
        assert answer["output_values"] == {"action": "echo"}


def test_sigkill_of_run_kills_the_emulators_it_started(tmp_path):
    """Nothing configured: `run` starts Google's Pub/Sub emulator (Java) and the storage emulator itself."""
    unset = dict.fromkeys(("PUBSUB_EMULATOR_HOST", "STORAGE_EMULATOR_HOST", "GOOGLE_CLOUD_PROJECT"))
    service = LocalService(_service_dir(tmp_path / "service", **USES_STORAGE),
                           environment={**unset, **_state(tmp_path / "state")})
    service.start()
    try:
        run = service.process.pid
        children = _children(run)
        commands = [_command_line(pid) for pid in children]
        assert any("java" in command and "pubsub-emulator" in command for command in commands), commands
        assert any("gcp_storage_emulator" in command for command in commands), commands
        os.kill(run, signal.SIGKILL)
        _wait_for(lambda: not any(is_running(pid) for pid in children), 15, "stopped with run")
    finally:
        service.stop()


def test_the_service_answers_again_after_its_pubsub_emulator_restarts(tmp_path, pubsub_emulator, storage_emulator):
    emulator = PubSubEmulator(port=free_port(), before_stop=close_listeners).start()
    try:
        environment = {"PUBSUB_EMULATOR_HOST": emulator.host_port, **_state(tmp_path / "state")}
        with LocalService(_service_dir(tmp_path / "service"), "--heartbeat_interval", "1",
                          environment=environment) as service:
            answer, _ = service.ask({"action": "echo"}, **ASK)
            assert answer["output_values"] == {"action": "echo"}
            emulator.stop()
            time.sleep(2)
            emulator.start()  # a fresh emulator on the same port: no topic, no subscription
            _wait_for(lambda: _restarts(service) > 0, 120, "serving the fresh emulator", service)
            answer, _ = service.ask({"action": "echo", "again": True}, **ASK)
            assert answer["output_values"] == {"action": "echo"}
    finally:
        emulator.stop()


def test_a_run_started_in_the_background_by_a_script_stops_on_sigint(tmp_path, pubsub_emulator, storage_emulator):
    """A shell starts a script's background jobs with SIGINT ignored; `run` handles it anyway."""
    service_dir, log = _service_dir(tmp_path / "service"), tmp_path / "run.log"
    subscription = f"{to_pub_sub_form('test-org/supervised:local')}.test.{uuid.uuid4().hex[:8]}"
    # The premise first: a background job of the same shell (grep) shows SIGINT among the signals it ignores.
    script = (
        "grep SigIgn: /proc/self/status & wait; "
        f"{sys.executable} -m octue_beam run {service_dir} --subscription {subscription} > {log} 2>&1 & "
        "echo $!; wait"
    )
    environment = {**os.environ, **_state(tmp_path / "state"), "TWINED_SERVICES_TOPIC_NAME": f"test.{uuid.uuid4()}"}
    shell = subprocess.Popen(
        ["bash", "-c", script], cwd=REPOSITORY, env=environment, stdout=subprocess.PIPE, text=True,
        start_new_session=True,
    )
    try:
        ignored = int(shell.stdout.readline().split()[1], 16)
        assert ignored & (1 << (signal.SIGINT - 1))
        run = int(shell.stdout.readline())
        _wait_for(lambda: log.exists() and "is ready" in log.read_text(), 120, "ready")
        children = _children(run)
        os.kill(run, signal.SIGINT)
        _wait_for(lambda: not is_running(run), 30, f"stopped by SIGINT:\n{log.read_text()[-3000:]}")
        assert shell.wait(timeout=10) == 0
        assert "Stopping the service." in log.read_text()
        assert not any(is_running(pid) for pid in children)
    finally:
        if shell.poll() is None:
            os.killpg(shell.pid, signal.SIGKILL)
        shell.stdout.close()


def test_in_flight_questions_of_a_stopped_service_get_an_exception(tmp_path, pubsub_emulator, storage_emulator):
    """Stopping `run` (SIGTERM) while it answers a question tells that question's parent at once."""
    state = tmp_path / "state"
    service = LocalService(_service_dir(tmp_path / "service"), "--heartbeat_interval", "1",
                           environment=_state(state)).start()
    stopping = threading.Thread(target=service.stop, daemon=True)
    try:
        asked = _ask_a_long_question(service, tmp_path)
        stopping.start()
        with pytest.raises(ServiceStopped, match="was stopped"):
            asked.result(timeout=150)
    finally:
        if stopping.is_alive():
            stopping.join(timeout=60)
        service.stop()
