import types

import pytest

from octue_beam.exceptions import InvalidApp
from octue_beam.service.app_loading import load_app


class FakeAnalysis:
    output_values = None


def write(folder, text):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "app.py").write_text(text)
    return folder


def test_function_form(tmp_path):
    app = load_app(write(tmp_path, "def run(analysis):\n    analysis.output_values = 'function'\n"))
    analysis = FakeAnalysis()
    app(analysis)
    assert analysis.output_values == "function"


def test_class_form(tmp_path):
    text = (
        "class App:\n"
        "    def __init__(self, analysis):\n"
        "        self.analysis = analysis\n"
        "    def run(self):\n"
        "        self.analysis.output_values = 'class'\n"
    )
    app = load_app(write(tmp_path, text) / "app.py")
    analysis = FakeAnalysis()
    app(analysis)
    assert analysis.output_values == "class"


def test_neither(tmp_path):
    with pytest.raises(InvalidApp, match="has no entrypoint"):
        load_app(write(tmp_path, "x = 1\n"))


def test_both(tmp_path):
    text = (
        "def run(analysis):\n"
        "    pass\n"
        "class App:\n"
        "    def __init__(self, a):\n"
        "        pass\n"
        "    def run(self):\n"
        "        pass\n"
    )
    with pytest.raises(InvalidApp, match="both a 'run\\(analysis\\)' function and an 'App' class"):
        load_app(write(tmp_path, text))


def test_class_without_run(tmp_path):
    with pytest.raises(InvalidApp, match="'App' class .* has no 'run\\(\\)' method"):
        load_app(write(tmp_path, "class App:\n    def __init__(self, a):\n        pass\n"))


def test_import_error_names_the_app(tmp_path):
    folder = write(tmp_path, "import a_module_that_does_not_exist\ndef run(analysis):\n    pass\n")
    with pytest.raises(InvalidApp, match=str(folder / "app.py")) as error:
        load_app(folder)
    assert "a_module_that_does_not_exist" in str(error.value)


def test_missing_app(tmp_path):
    with pytest.raises(InvalidApp, match="No app found"):
        load_app(tmp_path)


def test_several_services_in_one_process_with_their_own_modules(tmp_path):
    apps = []
    for name in ("one", "two"):
        folder = write(
            tmp_path / name,
            f"from helper_{name} import VALUE\ndef run(analysis):\n    analysis.output_values = VALUE\n",
        )
        (folder / f"helper_{name}.py").write_text(f"VALUE = {name!r}\n")
        apps.append(load_app(folder))
    results = []
    for app in apps:
        analysis = FakeAnalysis()
        app(analysis)
        results.append(analysis.output_values)
    assert results == ["one", "two"]


def test_apps_with_same_named_sibling_modules_each_get_their_own(tmp_path):
    """Two apps loaded in one process whose folders both have a `helper` module (or package) each import their own,
    not the one the first app put in sys.modules (Octue's fractal template and examples/fractal both have
    `fractal`)."""
    apps = []
    for name, package in (("first", False), ("second", True)):
        folder = tmp_path / name
        folder.mkdir()
        if package:
            (folder / "helper").mkdir()
            (folder / "helper" / "__init__.py").write_text(f"WHO = {name!r}\n")
        else:
            (folder / "helper.py").write_text(f"WHO = {name!r}\n")
        app = "import helper\n\n\ndef run(analysis):\n    analysis.output_values = helper.WHO\n"
        (folder / "app.py").write_text(app)
        apps.append(load_app(folder))
    outputs = []
    for app in apps:
        analysis = types.SimpleNamespace(output_values=None)
        app(analysis)
        outputs.append(analysis.output_values)
    assert outputs == ["first", "second"]
