"""`python -m octue_beam run` as a newcomer meets it (issue 12): the service folder is checked before anything
starts; `--ask-manifest` with local datasets uploads them to the storage emulator; `run --ask` prints what `ask`
prints (the answer alone on stdout in the same shape, a service's error in one line, monitor messages on stderr);
the `ask` command it prints works as printed; nothing is left in the temporary folder."""

import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import uuid

import pytest

from octue_beam.testing import LocalService
from tests.support.paths import REPOSITORY
from tests.support.service_dirs import DEFAULT_TWINE, write_service

ANSWER_KEYS = ["question_uuid", "output_values", "output_manifest"]
EMULATOR_VARIABLES = (
    "PUBSUB_EMULATOR_HOST", "STORAGE_EMULATOR_HOST", "GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "GCP_PROJECT"
)
USING_MANIFESTS = REPOSITORY / "examples" / "using-manifests"

PRINTING_APP = """
def run(analysis):
    print("the app prints this")
    analysis.send_monitor_message({"progress": 0.5})
    analysis.output_values = {"echo": analysis.input_values}
"""
PRINTING_TWINE = {**DEFAULT_TWINE, "monitor_message_schema": {"type": "object"}}

REQUIRED_INPUTS_TWINE = {
    "input_values_schema": {
        "type": "object",
        "required": ["name", "count", "ratio", "flags", "when", "where"],
        "properties": {
            "name": {"type": "string", "minLength": 10},
            "count": {"type": "integer", "minimum": 2, "maximum": 9},
            "ratio": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
            "flags": {"type": "array", "minItems": 2, "items": {"type": "boolean"}},
            "when": {"type": "string", "format": "date"},
            "where": {"$ref": "#/$defs/place"},
        },
        "$defs": {"place": {"type": "object", "required": ["lat"], "properties": {"lat": {"type": "number"}}}},
        "additionalProperties": False,
    },
    "output_values_schema": {"type": "object", "required": ["echo"]},
}


def _clean_environment(**variables: str) -> dict:
    """No emulator or project configured: `run` starts its own emulators."""
    environment = {name: value for name, value in os.environ.items() if name not in EMULATOR_VARIABLES}
    return {**environment, **variables}


def _topic_environment() -> dict:
    """The session's emulators, a topic of this test's own."""
    return {**os.environ, "TWINED_SERVICES_TOPIC_NAME": f"test.newcomer.{uuid.uuid4().hex[:8]}"}


def _run(*arguments: str, cwd=REPOSITORY, environment=None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "octue_beam", *arguments], cwd=cwd, env=environment or _topic_environment(),
        capture_output=True, text=True, timeout=timeout,
    )


def _temporary_folders(pid: int) -> list[str]:
    return glob.glob(os.path.join(tempfile.gettempdir(), f"octue-beam-{pid}-*"))


def test_run_checks_the_service_folder_before_starting_any_emulator(tmp_path):
    """With no emulator binary, an emulator start would fail: the twine's error comes first."""
    folder = write_service(tmp_path / "broken", twine='{"input_values_schema": {"type": "object",}}')
    completed = _run(
        "run", str(folder), "--ask", "{}",
        environment=_clean_environment(OCTUE_BEAM_PUBSUB_EMULATOR="/nonexistent/cloud-pubsub-emulator"),
    )
    assert completed.returncode == 1
    assert f"InvalidTwineJson: The twine in file '{folder / 'twine.json'}' is not valid JSON" in completed.stderr
    assert "pubsub-emulator" not in completed.stderr and "Started the" not in completed.stderr


# --- run --ask-manifest with local datasets, as shipped, on emulators run starts itself --------------------------


@pytest.fixture(scope="module")
def manifest_run():
    """`run . --ask-manifest data/input/manifest.json` in examples/using-manifests, and the pid of `run`."""
    process = subprocess.Popen(
        [sys.executable, "-m", "octue_beam", "run", ".", "--ask-manifest", "data/input/manifest.json"],
        cwd=USING_MANIFESTS, env=_clean_environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    stdout, stderr = process.communicate(timeout=300)
    return process.pid, process.returncode, stdout, stderr


def test_run_ask_manifest_uploads_local_datasets_to_the_storage_emulator_and_says_so(manifest_run):
    _, code, stdout, stderr = manifest_run
    assert code == 0, stderr[-3000:]
    uploaded = re.search(
        r"Uploaded the local dataset 'raw_met_mast_data' \(data/input/raw_met_mast_data\) to "
        r"gs://octue-beam-local/inputs/[0-9a-f-]+/raw_met_mast_data on the storage emulator at http://\S+",
        stderr,
    )
    assert uploaded, stderr[-3000:]
    answer = json.loads(stdout)
    assert list(answer) == ANSWER_KEYS
    [cleaned] = answer["output_manifest"]["datasets"].values()
    assert cleaned == f"gs://octue-beam-local/outputs/{answer['question_uuid']}/cleaned_met_mast_data"


def test_run_ask_leaves_no_temporary_folder(manifest_run):
    """The question made temporary folders in the pipeline process (its output dataset); `run` made the Pub/Sub
    emulator's data folder."""
    pid, code, _, stderr = manifest_run
    assert code == 0, stderr[-3000:]
    pipeline = int(re.search(r"pipeline process: (\d+)", stderr).group(1))
    assert _temporary_folders(pid) == [] and _temporary_folders(pipeline) == []


# --- run --ask prints what ask prints ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def printing_run(tmp_path_factory, pubsub_emulator, storage_emulator):
    folder = write_service(tmp_path_factory.mktemp("printing") / "service", app=PRINTING_APP, twine=PRINTING_TWINE)
    return _run("run", str(folder), "--ask", '{"n": 1}')


def test_run_ask_prints_the_answer_alone_on_stdout_and_the_apps_prints_on_stderr(printing_run):
    assert printing_run.returncode == 0, printing_run.stderr[-3000:]
    assert json.loads(printing_run.stdout)["output_values"] == {"echo": {"n": 1}}
    assert "the app prints this" in printing_run.stderr


def test_run_ask_prints_the_answer_in_the_shape_ask_prints(printing_run):
    assert printing_run.returncode == 0, printing_run.stderr[-3000:]
    answer = json.loads(printing_run.stdout)
    assert list(answer) == ANSWER_KEYS
    uuid.UUID(answer["question_uuid"])
    assert answer["output_manifest"] is None


def test_run_ask_shows_monitor_messages_on_stderr(printing_run):
    assert printing_run.returncode == 0, printing_run.stderr[-3000:]
    assert 'Monitor message: {"progress": 0.5}' in printing_run.stderr


def test_run_ask_prints_a_services_error_in_one_line_as_ask_does(pubsub_emulator, storage_emulator):
    completed = _run("run", "examples/fractal", "--ask", '{"width": 1}', "--ask-timeout", "60")
    assert completed.returncode == 1
    assert completed.stdout == ""
    line = re.search(
        r"^octue-beam run: octue-beam-examples/fractal:local failed to answer question [0-9a-f-]{36} with "
        r"InvalidValuesContents: The input_values data is invalid at \$\.width: 1 is less than the minimum of 2\.$",
        completed.stderr,
        re.MULTILINE,
    )
    assert line, completed.stderr[-3000:]
    assert "Traceback" not in completed.stderr and "traceback (most recent call last)" not in completed.stderr

    debugged = _run("--debug", "run", "examples/fractal", "--ask", '{"width": 1}', "--ask-timeout", "60")
    assert debugged.returncode == 1
    assert "Traceback (most recent call last)" in debugged.stderr


# --- the ask command run prints ------------------------------------------------------------------------------------


def _printed_ask_command(service: LocalService) -> str:
    [line] = [line for line in service.output if "python -m octue_beam ask " in line]
    return line.strip().replace(" python -m octue_beam ", f" {sys.executable} -m octue_beam ")


@pytest.mark.parametrize("example", ["placeholder values from the twine", "using-manifests"])
def test_the_printed_ask_command_works_as_printed(example, tmp_path, pubsub_emulator, storage_emulator):
    """Run from another shell, with nothing configured but what the command sets, from the repository's root."""
    if example == "using-manifests":
        service_dir = USING_MANIFESTS
    else:
        service_dir = write_service(tmp_path / "service", twine=REQUIRED_INPUTS_TWINE)
    with LocalService(service_dir, cwd=REPOSITORY) as service:
        command = _printed_ask_command(service)
        completed = subprocess.run(
            ["bash", "-c", command], cwd=REPOSITORY, env=_clean_environment(), capture_output=True, text=True,
            timeout=120,
        )
    assert completed.returncode == 0, f"{command}\n{completed.stderr[-3000:]}"
    answer = json.loads(completed.stdout)
    if example == "using-manifests":
        assert "Uploaded the local dataset 'raw_met_mast_data'" in completed.stderr
        assert list(answer["output_manifest"]["datasets"]) == ["cleaned_met_mast_data"]
    else:
        required = REQUIRED_INPUTS_TWINE["input_values_schema"]["required"]
        assert sorted(answer["output_values"]["echo"]) == sorted(required)
