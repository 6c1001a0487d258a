"""`python -m octue_beam init`: the templates it lists, the names it accepts, and the folders it refuses."""

import subprocess
import sys

import pytest

from octue_beam.cli import main
from octue_beam.service.configuration import load_service_configuration
from octue_beam.templates import TEMPLATES


def init(*arguments: str) -> int:
    return main(["init", *arguments])


def test_list_and_help_name_every_template(capsys):
    assert init("--list") == 0
    listed = " ".join(capsys.readouterr().out.split())
    assert listed == " ".join(f"{name} {description}" for name, description in TEMPLATES.items())

    with pytest.raises(SystemExit):
        init("--help")
    help_text = " ".join(capsys.readouterr().out.split())
    assert all(f"{name} {description}" in help_text for name, description in TEMPLATES.items())


def test_the_name_defaults_to_the_folder_name_in_kebab_case(tmp_path, capsys):
    assert init("fractal", str(tmp_path / "My_Fractal Service")) == 0
    configuration = load_service_configuration(tmp_path / "My_Fractal Service")
    assert (configuration.namespace, configuration.name) == ("my-org", "my-fractal-service")
    out = capsys.readouterr().out
    assert "Made the service my-org/my-fractal-service from the fractal template" in out
    assert "python -m octue_beam ask-local . --input-values data/input/values.json" in out
    assert "python -m octue_beam run . --ask data/input/values.json" in out


def test_the_child_services_template_names_its_children_after_the_parent(tmp_path, capsys):
    assert init("child-services", str(tmp_path / "tree"), "--namespace", "acme", "--name", "wind-farm") == 0
    parent = load_service_configuration(tmp_path / "tree", service_name="wind-farm")
    assert [child["id"] for child in parent.children] == [
        "acme/wind-farm-elevation:local", "acme/wind-farm-wind-speed:local"
    ]
    assert load_service_configuration(tmp_path / "tree", service_name="wind-farm-elevation").namespace == "acme"
    # ask-local is shown for a child: the parent needs its children served.
    assert "ask-local . --service wind-farm-elevation --input-values data/input/values.json" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--name", "My_Service"], "--name 'My_Service' is not a valid service name"),
        (["--name=-service"], "--name '-service' is not a valid service name"),
        (["--namespace", "Acme Ltd"], "--namespace 'Acme Ltd' is not a valid service namespace"),
        (["--namespace", "example"], "--namespace 'example' is reserved"),
    ],
)
def test_bad_names_are_refused_before_anything_is_written(options, message, tmp_path, capsys):
    assert init("fractal", str(tmp_path / "new"), *options) == 1
    error = capsys.readouterr().err
    assert message in error
    assert not (tmp_path / "new").exists()


def test_a_folder_name_without_letters_or_digits_needs_name(tmp_path, capsys):
    assert init("fractal", str(tmp_path / "___")) == 1
    assert "The folder name '___' gives no service name" in capsys.readouterr().err
    assert not (tmp_path / "___").exists()


def test_an_unknown_template_or_a_missing_folder_is_a_clear_error(tmp_path, capsys):
    assert init("fractals", str(tmp_path / "new")) == 1
    assert "There is no template 'fractals'; the templates are: fractal, using-manifests, child-services" in (
        capsys.readouterr().err
    )
    assert init("fractal") == 1
    assert "Give DIR" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()


def test_a_folder_holding_anything_is_refused_without_force(tmp_path, capsys):
    folder = tmp_path / "busy"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")

    assert init("fractal", str(folder)) == 1

    error = capsys.readouterr().err
    assert f"The folder '{folder}' is not empty (it holds notes.txt)" in error and "--force" in error
    assert sorted(path.name for path in folder.iterdir()) == ["notes.txt"]


def test_force_writes_the_template_over_files_of_the_same_name_only(tmp_path, capsys):
    folder = tmp_path / "busy"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    (folder / "README.md").write_text("my old readme")

    assert init("fractal", str(folder), "--force") == 0

    assert "Overwrote 1 file(s): README.md." in capsys.readouterr().out
    assert (folder / "notes.txt").read_text() == "mine"
    assert (folder / "README.md").read_text().startswith("# busy\n")
    assert (folder / "app.py").is_file() and (folder / "tests" / "test_app.py").is_file()


def test_a_file_in_the_way_is_refused_even_with_force(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert init("fractal", str(tmp_path / "file"), "--force") == 1
    assert "is a file, not a folder" in capsys.readouterr().err

    folder = tmp_path / "busy"
    folder.mkdir()
    (folder / "tests").write_text("a file where the template makes a folder")
    assert init("fractal", str(folder), "--force") == 1
    assert "is a file where the template makes a folder" in capsys.readouterr().err
    assert sorted(path.name for path in folder.iterdir()) == ["tests"]


def test_init_imports_no_beam(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "octue_beam", "init", "child-services", str(tmp_path / "new")],
        capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    lines = [line for line in completed.stderr.splitlines() if line.startswith("import time:")]
    modules = [line.rsplit("|", 1)[1].strip() for line in lines]
    assert "octue_beam.templates.creating" in modules
    assert [name for name in modules if name.split(".")[0] == "apache_beam"] == []
