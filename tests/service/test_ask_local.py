"""The one-shot local run: `ask-local` on the command line and `run_locally` in Python."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import octue_beam
from octue_beam import exceptions
from tests.support.service_dirs import write_service

FRACTAL = Path(__file__).parents[2] / "examples" / "fractal"


def ask_local(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "octue_beam", "ask-local", *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def test_fractal_example_through_ask_local():
    process = ask_local(str(FRACTAL), "--input-values", "{}")
    assert process.returncode == 0, process.stderr
    result = json.loads(process.stdout)
    assert list(result) == ["question_uuid", "output_values", "output_manifest"]  # as `ask` and `run --ask` print
    assert set(result["output_values"]) == {"data", "layout"}
    assert result["output_values"]["data"]["type"] == "surface"
    assert len(result["output_values"]["data"]["z"]) == 64  # height from the example's app configuration
    assert "Monitor message" in process.stderr  # logs and monitor messages go to stderr


def test_input_values_from_a_file(tmp_path):
    values = tmp_path / "values.json"
    values.write_text(json.dumps({"width": 5, "height": 4, "julia_c": [-0.4, 0.6]}))
    process = ask_local(str(FRACTAL), "--input-values", str(values))
    assert process.returncode == 0, process.stderr
    output = json.loads(process.stdout)["output_values"]
    assert len(output["data"]["x"]) == 5 and output["layout"]["title"] == "Julia set"


def test_invalid_input_is_one_paragraph_naming_the_field():
    process = ask_local(str(FRACTAL), "--input-values", '{"width": 1}')
    assert process.returncode == 1
    assert process.stdout == ""
    assert (
        "InvalidValuesContents: The input_values data is invalid at $.width: 1 is less than the minimum of 2."
        in process.stderr
    )
    assert "Traceback" not in process.stderr


def test_debug_shows_the_traceback():
    process = subprocess.run(
        [sys.executable, "-m", "octue_beam", "--debug", "ask-local", str(FRACTAL), "--input-values", '{"width": 1}'],
        capture_output=True, text=True, timeout=120,
    )
    assert process.returncode == 1
    assert "Traceback" in process.stderr


def test_app_crash(tmp_path):
    app = "def run(analysis):\n    raise ZeroDivisionError('the app divided by zero')\n"
    folder = write_service(tmp_path / "crashing", app=app)
    process = ask_local(str(folder), "--input-values", "{}")
    assert process.returncode == 1
    assert "ZeroDivisionError: the app divided by zero" in process.stderr
    assert "Traceback" not in process.stderr


def test_invalid_output(tmp_path):
    app = "def run(analysis):\n    analysis.output_values = {'nope': 1}\n"
    folder = write_service(tmp_path / "bad-output", app=app)
    process = ask_local(str(folder), "--input-values", "{}")
    assert process.returncode == 1
    assert "output_values data is invalid at $: 'echo' is a required property" in process.stderr


def test_default_service_dir_is_the_current_folder(tmp_path):
    folder = write_service(tmp_path / "here")
    process = ask_local("--input-values", '{"a": 1}', cwd=folder)
    assert process.returncode == 0, process.stderr
    assert json.loads(process.stdout)["output_values"] == {"echo": {"a": 1}}


def test_run_locally_returns_the_finalised_analysis(tmp_path):
    folder = write_service(tmp_path / "svc")
    question_uuid = "8ead7669-8162-4f64-8cd5-4abe92509e17"
    analysis = octue_beam.run_locally(folder, input_values={"a": [1, 2]}, question_uuid=question_uuid)
    assert analysis.finalised
    assert analysis.output_values == {"echo": {"a": [1, 2]}}
    assert analysis.id == "8ead7669-8162-4f64-8cd5-4abe92509e17"


def test_run_locally_with_the_class_form_and_configuration(tmp_path):
    app = """
    class App:
        def __init__(self, analysis):
            self.analysis = analysis

        def run(self):
            self.analysis.output_values = {"echo": self.analysis.configuration_values["greeting"]}
    """
    twine = {
        "configuration_values_schema": {"type": "object", "required": ["greeting"]},
        "input_values_schema": {"type": "object", "optional": True},
        "output_values_schema": {"type": "object"},
    }
    service = {"configuration_values": {"greeting": "hello"}}
    folder = write_service(tmp_path / "svc", app=app, twine=twine, service=service)
    assert octue_beam.run_locally(folder).output_values == {"echo": "hello"}


def test_invalid_configuration_is_reported_at_load(tmp_path):
    twine = {"configuration_values_schema": {"type": "object", "required": ["greeting"]}, "output_values_schema": {}}
    folder = write_service(tmp_path / "svc", twine=twine, service={"configuration_values": {}})
    message = "configuration_values data is invalid at \\$: 'greeting' is a required property"
    with pytest.raises(exceptions.InvalidValuesContents, match=message):
        octue_beam.run_locally(folder)


def test_credentials_are_checked(tmp_path, monkeypatch):
    monkeypatch.delenv("MY_API_KEY", raising=False)
    twine = {"credentials": [{"name": "MY_API_KEY", "purpose": "x"}], "output_values_schema": {}}
    app = "import os\ndef run(analysis):\n    analysis.output_values = os.environ['MY_API_KEY']\n"
    folder = write_service(tmp_path / "svc", twine=twine, app=app)
    with pytest.raises(exceptions.CredentialNotFound, match="MY_API_KEY"):
        octue_beam.run_locally(folder)
    (folder / ".env").write_text("MY_API_KEY=from-dotenv\n")
    try:
        assert octue_beam.run_locally(folder).output_values == "from-dotenv"
    finally:
        os.environ.pop("MY_API_KEY", None)


def test_children_are_built_from_configuration(tmp_path):
    app = (
        "def run(analysis):\n"
        "    analysis.output_values = {key: child.id for key, child in analysis.children.items()}\n"
    )
    twine = {"children": [{"key": "elevation"}], "output_values_schema": {}}
    backend = {"name": "GCPPubSubBackend", "project_id": "p"}
    children = [{"key": "elevation", "id": "my-org/elevation:1.0.0", "backend": backend}]
    folder = write_service(tmp_path / "svc", app=app, twine=twine, service={"children": children})
    assert octue_beam.run_locally(folder).output_values == {"elevation": "my-org/elevation:1.0.0"}
    with pytest.raises(exceptions.InvalidValuesContents, match="No children found matching the key 'elevation'"):
        octue_beam.run_locally(folder, children=[])


def test_debug_after_the_command_name_also_shows_the_traceback():
    process = ask_local(str(FRACTAL), "--input-values", '{"width": 1}', "--debug")
    assert process.returncode == 1
    assert "Traceback" in process.stderr and "InvalidValuesContents" in process.stderr
