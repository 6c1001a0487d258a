"""What a local `run` starts and loads, and no more: the storage emulator only when a service or its question can
use Cloud Storage (`cli.supervising.needs_storage`), and a pipeline process that never loaded pandas or pyarrow
(`cli.lean_beam`), which Beam would otherwise import for integrations serving never uses, beside a supervisor that
has not loaded the Pub/Sub client."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from octue_beam.cli.supervising import needs_storage
from octue_beam.exceptions import StrandNotFound
from octue_beam.service.loading import load_service
from octue_beam.testing import LocalService
from tests.support.paths import FIXTURES, REPOSITORY

BEHAVIOURS = FIXTURES / "behaviours"


def _service_folder(tmp_path: Path, twine: dict | None = None, **configuration) -> Path:
    """A trivial service whose octue.yaml holds `configuration` on top of its namespace and name."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "app.py").write_text("def run(analysis):\n    analysis.output_values = {}\n")
    (tmp_path / "twine.json").write_text(json.dumps(twine or {"input_values_schema": {"type": "object"}}))
    lines = ["services:", "  - namespace: lean-tests", "    name: lean"]
    lines += [f"    {key}: {json.dumps(value)}" for key, value in configuration.items()]
    (tmp_path / "octue.yaml").write_text("\n".join(lines) + "\n")
    return tmp_path


def test_a_service_without_manifests_or_cloud_storage_needs_no_storage_emulator():
    assert not needs_storage([load_service(BEHAVIOURS, check_credentials=False)])


def test_manifest_strands_an_ask_manifest_and_cloud_storage_settings_need_the_storage_emulator(tmp_path):
    manifests = load_service(REPOSITORY / "examples" / "using-manifests", check_credentials=False)
    assert needs_storage([manifests])
    behaviours = load_service(BEHAVIOURS, check_credentials=False)
    assert needs_storage([behaviours, manifests])  # a companion's need counts
    assert needs_storage([behaviours], {"input_values": None, "input_manifest": {"datasets": {}}})
    assert not needs_storage([behaviours], {"input_values": {"n": 1}, "input_manifest": None})
    for name, configuration in {
        "output": {"output_location": "gs://a-bucket/outputs"},
        "diagnostics": {"diagnostics_cloud_path": "gs://a-bucket/diagnostics"},
        "children": {"children": [{"key": "child", "id": "lean-tests/child:1", "backend": {
            "name": "GCPPubSubBackend", "project_id": "a-project"}}]},
    }.items():
        twine = {"input_values_schema": {"type": "object"}}
        if name == "children":
            twine["children"] = [{"key": "child"}]
        folder = _service_folder(tmp_path / name, twine, **configuration)
        assert needs_storage([load_service(folder, check_credentials=False)]), name


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    pids, stack = [], [root]
    while stack:
        pids.append(stack.pop())
        stack.extend(children.get(pids[-1], []))
    return pids


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@pytest.fixture
def served_behaviours(pubsub_emulator):
    """The behaviours service served by `run` on the session's Pub/Sub emulator, left to decide on storage itself."""
    with LocalService(BEHAVIOURS, environment={"STORAGE_EMULATOR_HOST": None}, cwd=REPOSITORY) as service:
        yield service


def test_run_starts_no_storage_emulator_for_a_service_that_cannot_use_one(served_behaviours):
    output = served_behaviours.log()
    assert "emulators started here: nothing (using what is configured) (no storage emulator: no service here uses " \
           "manifests or Cloud Storage)" in output, output
    assert "STORAGE_EMULATOR_HOST" not in output
    tree = _tree(served_behaviours.process.pid)
    assert not [pid for pid in tree if "storage" in _command_line(pid)], [_command_line(pid) for pid in tree]
    answer, _ = served_behaviours.ask({"action": "echo", "value": 1})
    assert answer["output_values"] == {"action": "echo", "value": 1}


def test_a_question_with_a_manifest_to_such_a_service_is_refused_by_its_twine_and_the_next_is_answered(
    served_behaviours,
):
    """What happens when a question brings a dataset to a service that started no storage emulator: the twine has
    no strand for it, so the question's exception says so (as it would with a storage emulator running)."""
    manifest = {"id": "8f1e6cc9-1d1e-4f2c-9fbb-5a5cfc2a6d2e", "datasets": {"data": "gs://octue-beam-local/data"}}
    with pytest.raises(StrandNotFound, match="input_manifest"):
        served_behaviours.ask({"action": "echo", "value": 2}, input_manifest=manifest, max_retries=0)
    answer, _ = served_behaviours.ask({"action": "echo", "value": 3})
    assert answer["output_values"] == {"action": "echo", "value": 3}


def test_the_pipeline_process_loads_neither_pandas_nor_pyarrow_nor_pymongo(served_behaviours):
    pid = int(re.search(r"pipeline process: (\d+)", served_behaviours.log()).group(1))
    maps = Path(f"/proc/{pid}/maps").read_text()
    assert "python" in _command_line(pid) and "--control-fd" in _command_line(pid)
    # started warm, before `run` checked the service (`cli.warm_start`), then told what to run
    assert f"-m octue_beam.cli.warm_start run {BEHAVIOURS}" in _command_line(pid)
    for unused in ("pandas", "pyarrow", "pymongo", "bson"):
        assert f"{os.sep}{unused}{os.sep}" not in maps, f"{unused} was loaded"


def test_the_supervisor_serves_without_the_pub_sub_client(served_behaviours):
    """`run` itself (the supervisor) loads the Pub/Sub client, half its memory, only to answer questions left in
    flight or to ask --ask: while its pipeline process serves, it has not loaded grpc."""
    answer, _ = served_behaviours.ask({"action": "echo", "value": 4})
    assert answer["output_values"] == {"action": "echo", "value": 4}
    supervisor = served_behaviours.process.pid
    assert "octue_beam" in _command_line(supervisor) and "--control-fd" not in _command_line(supervisor)
    maps = Path(f"/proc/{supervisor}/maps").read_text()
    assert f"{os.sep}grpc{os.sep}" not in maps, "the supervisor loaded grpc (the Pub/Sub client)"


def test_an_app_importing_pandas_after_beam_gets_it():
    """The refusal is lifted once Beam is imported: an app (or anything later) imports pandas and pyarrow as usual."""
    script = (
        "import sys; import octue_beam.cli.serving; assert 'pandas' not in sys.modules, 'pandas loaded with Beam';"
        "import pandas, pyarrow; print(pandas.DataFrame({'a': [1, 2]})['a'].sum(), pyarrow.array([1, 2]).to_pylist())"
    )
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                               cwd=REPOSITORY)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout.split() == ["3", "[1,", "2]"]
