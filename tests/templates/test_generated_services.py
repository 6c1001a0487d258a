"""`python -m octue_beam init TEMPLATE DIR` makes a service whose own generated tests pass: for each template, `init`
into a new folder, then run the generated tests there with `python -m pytest` in a subprocess (the same interpreter,
the environment of a newcomer's shell: no emulator running), as the printed next steps say. Every generated test
must pass (none skipped), including the one asking the service served over the Pub/Sub emulator."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from octue_beam.cli import main
from octue_beam.service.configuration import load_service_configuration, service_names
from octue_beam.templates import TEMPLATES

#: What the process running the generated tests must not inherit from this test session: its emulators and the
#: service selection of the environment (a newcomer's shell has neither).
_SESSION_VARIABLES = (
    "PUBSUB_EMULATOR_HOST", "STORAGE_EMULATOR_HOST", "GOOGLE_CLOUD_PROJECT", "TWINED_SERVICES_TOPIC_NAME"
)


def newcomer_environment() -> dict[str, str]:
    return {
        name: value
        for name, value in os.environ.items()
        if name not in _SESSION_VARIABLES and not name.startswith(("OCTUE_SERVICE_", "PYTEST_"))
    }


def run_generated_tests(service_dir: Path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", *options, str(service_dir)],
        cwd=service_dir, env=newcomer_environment(), capture_output=True, text=True, timeout=300,
    )


def initialise(template: str, folder: Path, *options: str) -> Path:
    assert main(["init", template, str(folder), *options]) == 0
    return folder


@pytest.mark.parametrize("template", list(TEMPLATES))
def test_the_generated_service_passes_its_own_tests(template, tmp_path, capsys):
    service_dir = initialise(template, tmp_path / f"new-{template}", "--namespace", "acme", "--name", "my-service")
    assert "Next steps" in capsys.readouterr().out

    # The files are filled in: no placeholder or template suffix is left, and octue.yaml names the new service.
    for path in service_dir.rglob("*"):
        assert not path.name.endswith("-tpl"), path
        if path.is_file() and path.suffix in {".py", ".yaml", ".md", ".json"}:
            assert "{{" not in path.read_text(), path
    main_service = load_service_configuration(service_dir, service_name=service_names(service_dir)[0])
    assert (main_service.namespace, main_service.name) == ("acme", "my-service")
    assert (service_dir / "tests" / "test_app.py").is_file() and (service_dir / "README.md").is_file()
    # The newcomer's code passes a linter with common rules (ruff's defaults, imports sorted, 120 characters a line).
    linted = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", "--line-length", "120", "--target-version", "py310",
         "--select", "E,F,W,I,B,UP,C4", "--no-cache", "."],
        cwd=service_dir, capture_output=True, text=True, timeout=60,
    )
    assert linted.returncode == 0, linted.stdout

    completed = run_generated_tests(service_dir)

    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output[-6000:]
    results = re.findall(r"^tests/test_app\.py::(\S+) (PASSED|FAILED|SKIPPED|ERROR|XFAIL|XPASS)", output, re.MULTILINE)
    assert results and all(outcome == "PASSED" for _, outcome in results), results
    assert any(name.endswith("through_pub_sub") for name, _ in results), results  # served and asked over Pub/Sub
    assert re.search(rf"^=+ {len(results)} passed in ", output, re.MULTILINE), output[-2000:]


def test_a_broken_app_fails_the_generated_local_test(tmp_path):
    """The generated tests test the app: a service that ignores its input values fails them."""
    service_dir = initialise("fractal", tmp_path / "broken")
    app = service_dir / "app.py"
    app.write_text(app.read_text().replace("**(analysis.input_values or {})", ""))

    completed = run_generated_tests(service_dir, "-k", "locally")

    assert completed.returncode == 1, completed.stdout[-3000:]
    assert "FAILED tests/test_app.py::test_the_app_draws_the_mandelbrot_set_locally" in completed.stdout
