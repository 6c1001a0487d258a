"""`python -m octue_beam port DIR`: rewrites an Octue service's imports in place, into a copy (`--to`) or as a diff
(`--dry-run`), lists what it could not port as `path:line: ...` and exits 1 while anything is left."""

import json
import subprocess
import sys

import yaml

from tests.support.service_dirs import DEFAULT_TWINE

OCTUE_APP = '''"""An Octue app."""

import logging

from octue.resources import Datafile, Dataset
from octue.utils import gen_uuid

logger = logging.getLogger(__name__)


def run(analysis):
    analysis.output_values = {"echo": analysis.input_values}
'''
OCTUE_IMPORT = "from octue.resources import Datafile, Dataset"
PORTED_IMPORT = "from octue_beam import Datafile, Dataset"
PORTED_APP = OCTUE_APP.replace(OCTUE_IMPORT, PORTED_IMPORT)
CLEAN_APP = OCTUE_APP.replace("from octue.utils import gen_uuid\n", "")


def _octue_service(folder, app=OCTUE_APP, requirements="octue==0.69.1\nnumpy==1.26.4\n", configuration=True):
    """An Octue service folder: app.py, twine.json, requirements.txt and (when `configuration`) octue.yaml."""
    folder.mkdir(parents=True)
    (folder / "app.py").write_text(app)
    (folder / "twine.json").write_text(json.dumps(DEFAULT_TWINE))
    (folder / "requirements.txt").write_text(requirements)
    if configuration:
        (folder / "octue.yaml").write_text(yaml.safe_dump({"services": [{"namespace": "my-org", "name": "echo"}]}))
    return folder


def _port(*arguments, cwd):
    return subprocess.run(
        [sys.executable, "-m", "octue_beam", "port", *arguments], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_port_rewrites_imports_in_place_and_lists_what_is_left_with_exit_code_1(tmp_path):
    _octue_service(tmp_path / "service", configuration=False)
    completed = _port("service", cwd=tmp_path)
    assert completed.returncode == 1, completed.stderr
    assert (tmp_path / "service" / "app.py").read_text() == PORTED_APP
    left = completed.stderr.splitlines()
    assert left[0].startswith("service/app.py:6: from octue.utils import gen_uuid (")
    assert left[1] == "service/requirements.txt:1: octue==0.69.1 (requires octue: require octue_beam instead)"
    assert left[2].startswith("service: no octue.yaml: an octue_beam service needs one")
    assert left[3] == (
        "octue-beam port: rewrote the imports of 1 file(s); 3 thing(s) left to port by hand (above; see "
        "docs/porting.md)."
    )


def test_port_dry_run_prints_a_diff_and_writes_nothing(tmp_path):
    _octue_service(tmp_path / "service")
    completed = _port("service", "--dry-run", cwd=tmp_path)
    assert completed.returncode == 1
    assert (tmp_path / "service" / "app.py").read_text() == OCTUE_APP
    assert completed.stdout.startswith("--- a/service/app.py\n+++ b/service/app.py\n")
    assert "\n-from octue.resources import Datafile, Dataset\n+from octue_beam import Datafile, Dataset\n" in (
        completed.stdout
    )
    assert "would rewrite the imports of 1 file(s)" in completed.stderr


def test_port_to_a_new_folder_leaves_the_original_and_exits_0_when_nothing_is_left(tmp_path):
    _octue_service(tmp_path / "service", app=CLEAN_APP, requirements="numpy==1.26.4\n")
    completed = _port("service", "--to", "ported", cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert (tmp_path / "service" / "app.py").read_text() == CLEAN_APP
    assert (tmp_path / "ported" / "app.py").read_text() == CLEAN_APP.replace(OCTUE_IMPORT, PORTED_IMPORT)
    assert sorted(path.name for path in (tmp_path / "ported").iterdir()) == sorted(
        path.name for path in (tmp_path / "service").iterdir()
    )
    assert "nothing left to port by hand" in completed.stderr

    ask_local = subprocess.run(
        [sys.executable, "-m", "octue_beam", "ask-local", "ported", "--input-values", '{"n": 1}'],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert ask_local.returncode == 0, ask_local.stderr
    assert json.loads(ask_local.stdout)["output_values"] == {"echo": {"n": 1}}

    again = _port("service", "--to", "ported", cwd=tmp_path)
    assert again.returncode == 1
    assert "--to 'ported' exists and is not an empty folder" in again.stderr


def test_port_imports_no_beam_nor_google_client():
    from tests.test_cli_imports import beam_modules, imported_modules

    modules = imported_modules("port", "--help")
    assert beam_modules(modules) == []
    assert [name for name in modules if name.startswith(("google.cloud", "grpc"))] == []
