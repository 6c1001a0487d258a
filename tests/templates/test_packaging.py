"""The templates ship in the package: setup.py's `package_data` globs (read from setup.py, matched as setuptools
matches them) take every file of every template folder, dotfiles included, and there is a folder per template."""

import ast
import glob
from pathlib import Path

from octue_beam.templates import TEMPLATES

REPOSITORY = Path(__file__).resolve().parents[2]
PACKAGE = REPOSITORY / "octue_beam"


def package_data_patterns() -> list[str]:
    tree = ast.parse((REPOSITORY / "setup.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "package_data":
            return ast.literal_eval(node.value)["octue_beam"]
    raise AssertionError("setup.py has no package_data")


def test_every_template_file_is_package_data():
    shipped = {
        Path(match)
        for pattern in package_data_patterns()
        for match in glob.glob(pattern, root_dir=PACKAGE, recursive=True)
        if (PACKAGE / match).is_file()
    }
    templates = PACKAGE / "templates"
    folders = sorted(path.name for path in templates.iterdir() if path.is_dir() and path.name != "__pycache__")
    assert folders == sorted(TEMPLATES)
    template_files = {
        path.relative_to(PACKAGE)
        for folder in folders
        for path in (PACKAGE / "templates" / folder).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert Path("templates/using-manifests/data/input/raw_met_mast_data/.octue") in template_files
    assert template_files - shipped == set()


def test_no_template_file_is_a_python_module_of_the_package():
    """Template code is data (`.py-tpl`): not imported, not collected by pytest, not checked against the layers."""
    for folder in TEMPLATES:
        assert list((PACKAGE / "templates" / folder).rglob("*.py")) == []
