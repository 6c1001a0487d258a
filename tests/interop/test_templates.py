"""Octue 0.69.1's own template apps, ported by rewriting their imports only, answer on octue_beam as on Octue.

The templates are read from the `octue` package of the second environment at test time (tests/support/octue.py),
copied into a temporary folder and ported with `octue_beam.porting.rewrite_imports`; nothing of them is kept in
this repository. Octue's side runs in that environment with Octue's own `Runner` (tests/interop/octue_template_side.py),
given the same inputs the same way Octue's template tests give them.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import jsonschema
import yaml

from octue_beam.porting import rewrite_imports
from octue_beam.service.loading import load_service
from octue_beam.service.runner import Runner
from octue_beam.testing import LocalService
from octue_beam.twine.loading import load_json_source
from tests.support.octue import OCTUE_PYTHON, require_octue, templates_folder
from tests.support.paths import REPOSITORY

SIDE = Path(__file__).with_name("octue_template_side.py")
MANIFEST_SCHEMA = REPOSITORY / "octue_beam" / "schemas" / "manifest.json"
TESTED = {"template-fractal", "template-using-manifests", "template-child-services"}


def port(template: str, destination: Path) -> Path:
    """Copy Octue's `template` to `destination` and rewrite the imports of its Python files (nothing else)."""
    shutil.copytree(os.path.join(templates_folder(), template), destination,
                    ignore=shutil.ignore_patterns("__pycache__"))
    for path in destination.rglob("*.py"):
        source = path.read_text()
        ported, unported = rewrite_imports(source)
        assert unported == [], f"{path}: {unported}"
        changed = [(old, new) for old, new in zip(source.splitlines(), ported.splitlines(), strict=True) if old != new]
        assert all(old.startswith("from octue.") and new.startswith("from octue_beam") for old, new in changed), changed
        path.write_text(ported)
    return destination


def run_on_octue(app_dir: Path, report: Path, **inputs) -> subprocess.Popen:
    """Start Octue's Runner on the (unported) app in `app_dir`; it writes its report to `report`."""
    params = {"app_src": ".", "twine": "twine.json", "manifest_schema": str(MANIFEST_SCHEMA), "report": str(report),
              **inputs}
    return subprocess.Popen([OCTUE_PYTHON, str(SIDE), json.dumps(params)], cwd=app_dir, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def octue_report(process: subprocess.Popen, report: Path) -> dict:
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output[-3000:]
    return json.loads(report.read_text())


def describe_manifest(manifest) -> dict | None:
    """What octue_template_side.describe_manifest reports, for an octue_beam manifest."""
    if manifest is None:
        return None
    described = {}
    for key, dataset in manifest.datasets.items():
        files = {}
        for datafile in dataset.files:
            with datafile.open("r") as f:
                text = f.read()
            files[datafile.name] = {"labels": sorted(map(str, datafile.labels)), "tags": dict(datafile.tags),
                                    "text": text}
        described[key] = {"name": dataset.name, "labels": sorted(map(str, dataset.labels)),
                          "tags": dict(dataset.tags), "files": files}
    return described


def test_every_template_octue_ships_is_tested():
    require_octue()
    shipped = {name for name in os.listdir(templates_folder()) if name.startswith("template-")}
    assert shipped == TESTED


def test_the_fractal_template_answers_exactly_as_on_octue(tmp_path):
    """The same configuration file, the same output values (deterministic: the Mandelbrot set), number for number."""
    require_octue("numpy")
    original = shutil.copytree(os.path.join(templates_folder(), "template-fractal"), tmp_path / "octue")
    octue = run_on_octue(original, tmp_path / "octue.json", configuration_values="data/configuration/"
                                                                                   "configuration_values.json")
    ported = port("template-fractal", tmp_path / "beam")
    runner = Runner(app_src=ported, twine=ported / "twine.json",
                    configuration_values=ported / "data" / "configuration" / "configuration_values.json")
    ours = json.loads(json.dumps(runner.run().output_values))
    theirs = octue_report(octue, tmp_path / "octue.json")["output_values"]
    assert ours["layout"] == theirs["layout"] == {"title": "Mandelbrot set with 64 iterations", "width": 600,
                                                   "height": 600}
    assert ours == theirs


def test_the_using_manifests_template_writes_the_same_dataset_as_on_octue(tmp_path, monkeypatch):
    """It imports Octue's RegisteredTemporaryDirectory (octue_beam.utils.files after the port). The same input
    manifest (its dataset path relative to the template's folder, as Octue's test runs it) gives the same output
    dataset: name, labels, and the cleaned CSV file byte for byte."""
    require_octue("pandas", "dateparser", "stringcase")
    original = shutil.copytree(os.path.join(templates_folder(), "template-using-manifests"), tmp_path / "octue")
    inputs = {"configuration_values": "data/configuration/values.json", "input_manifest": "data/input/manifest.json"}
    octue = run_on_octue(original, tmp_path / "octue.json", **inputs)
    ported = port("template-using-manifests", tmp_path / "beam")
    monkeypatch.chdir(ported)
    analysis = Runner(app_src=ported, twine="twine.json", configuration_values=inputs["configuration_values"]).run(
        input_manifest=inputs["input_manifest"]
    )
    ours = describe_manifest(analysis.output_manifest)
    theirs = octue_report(octue, tmp_path / "octue.json")["output_manifest"]
    cleaned = ours["cleaned_met_mast_data"]
    assert cleaned["labels"] == ["cleaned", "mast", "met"] and list(cleaned["files"]) == ["cleaned.csv"]
    assert cleaned["files"]["cleaned.csv"]["text"].splitlines()[0].endswith(",time_stamp,Barometer_1")
    assert ours == theirs


def test_the_child_services_template_answers_through_pub_sub_as_on_octue(tmp_path, pubsub_emulator, storage_emulator):
    """The parent and its two children, ported, served by one local run (`run parent --with child --with child`) and
    asked through the Pub/Sub emulator. The children answer random numbers (random.randint), so the answer is compared
    in structure: the parent's output schema, one number per location from each child within the child's range, as
    the same child apps give on Octue's Runner for the same input values.

    The parent's octue.yaml asks its children in the project `octue-sdk-python` (not the run's): the run must serve
    them there. The children's IDs have no revision tag, which needs a service registry on Octue as here, so the
    question names the revisions the run serves, as Octue's own template test does (`children` with tags)."""
    require_octue()
    original = Path(templates_folder()) / "template-child-services"
    tree = port("template-child-services", tmp_path / "beam")
    values, _ = load_json_source(str(tree / "parent_service" / "data" / "input" / "values.json"))
    octue_runs = {}
    for child in ("elevation_service", "wind_speed_service"):
        copy = shutil.copytree(original / child, tmp_path / "octue" / child)
        configuration = yaml.safe_load((copy / "octue.yaml").read_text())["services"][0]["configuration_values"]
        octue_runs[child] = run_on_octue(copy, tmp_path / f"{child}.json", input_values=values,
                                         configuration_values=configuration)

    configured = yaml.safe_load((tree / "parent_service" / "octue.yaml").read_text())["services"][0]["children"]
    sruids = {child: load_service(tree / child, check_credentials=False).sruid
              for child in ("elevation_service", "wind_speed_service")}
    children = [{**child, "id": sruids[child["id"].split("/")[1].replace("-", "_")]} for child in configured]
    assert {child["backend"]["project_id"] for child in children} == {"octue-sdk-python"}

    parent = LocalService(tree / "parent_service", "--with", str(tree / "elevation_service"), "--with",
                          str(tree / "wind_speed_service"), cwd=tmp_path)
    with parent:
        answer, _ = parent.ask(values, children=children, timeout=240)

    output = answer["output_values"]
    twine = json.loads((tree / "parent_service" / "twine.json").read_text())
    jsonschema.validate(output, twine["output_values_schema"])
    assert set(output) == {"wind_speeds", "elevations"}
    on_octue = {child: octue_report(process, tmp_path / f"{child}.json")["output_values"]
                for child, process in octue_runs.items()}
    for ours, theirs, top in ((output["elevations"], on_octue["elevation_service"], 5000),
                              (output["wind_speeds"], on_octue["wind_speed_service"], 200)):
        assert len(ours) == len(theirs) == len(values["locations"])
        assert all(isinstance(number, int) and 0 <= number <= top for number in ours + theirs)

