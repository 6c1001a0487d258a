"""The second Python environment with the real `octue==0.69.1`, for the interop and template tests.

`octue` is never a dependency of octue_beam: it lives in its own virtual environment, found at `$OCTUE_PYTHON` or
`/work/octue-venv/bin/python`, and tests run it in subprocesses. Without it (or without a module a test needs) the
test is skipped, except when `OCTUE_BEAM_REQUIRE_OCTUE=1` (set by .ci/run): then it FAILS, saying what is missing,
so CI cannot pass with the interop tests skipped.
"""

import functools
import importlib.util
import json
import os
import subprocess

import pytest

OCTUE_PYTHON = os.environ.get("OCTUE_PYTHON") or "/work/octue-venv/bin/python"
REQUIRED = os.environ.get("OCTUE_BEAM_REQUIRE_OCTUE") == "1"
OCTUE_VERSION = "0.69.1"


@functools.cache
def _octue_environment() -> dict:
    """`{"version", "package", "missing"}` of the octue interpreter, or `{"error"}` when it cannot be used."""
    if not os.path.exists(OCTUE_PYTHON):
        return {"error": f"no octue interpreter at {OCTUE_PYTHON} (set OCTUE_PYTHON)"}
    script = (
        "import importlib.util, json, os, octue, importlib.metadata as m;"
        "print(json.dumps({'version': m.version('octue'), 'package': os.path.dirname(octue.__file__)}))"
    )
    result = subprocess.run([OCTUE_PYTHON, "-c", script], capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        return {"error": f"{OCTUE_PYTHON} cannot import octue: {result.stderr.strip()[-500:]}"}
    return json.loads(result.stdout.strip().splitlines()[-1])


@functools.cache
def _missing_in_octue_environment(modules: tuple[str, ...]) -> list[str]:
    script = (
        "import importlib.util, json, sys;"
        "print(json.dumps([m for m in sys.argv[1:] if not importlib.util.find_spec(m)]))"
    )
    result = subprocess.run([OCTUE_PYTHON, "-c", script, *modules], capture_output=True, text=True, timeout=120)
    return json.loads(result.stdout.strip().splitlines()[-1]) if result.returncode == 0 else list(modules)


def unavailable(*modules: str) -> str | None:
    """Why the octue tests cannot run here (None: they can): no octue interpreter, the wrong octue version, or one of
    `modules` missing from either environment (a template app's imports)."""
    environment = _octue_environment()
    if "error" in environment:
        return environment["error"]
    if environment["version"] != OCTUE_VERSION:
        return f"{OCTUE_PYTHON} has octue {environment['version']}, not {OCTUE_VERSION}"
    missing_here = [module for module in modules if importlib.util.find_spec(module) is None]
    if missing_here:
        return f"this environment lacks {', '.join(missing_here)} (pip install -r tests/interop/requirements.txt)"
    missing_there = _missing_in_octue_environment(tuple(modules))
    if missing_there:
        return f"{OCTUE_PYTHON} lacks {', '.join(missing_there)} (pip install -r tests/interop/requirements.txt)"
    return None


def require_octue(*modules: str) -> None:
    """Skip the calling test when octue (or one of `modules`) is unavailable; fail it instead in CI."""
    reason = unavailable(*modules)
    if reason is None:
        return
    if REQUIRED:
        pytest.fail(f"OCTUE_BEAM_REQUIRE_OCTUE=1 but the octue interop tests cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def octue_python() -> str:
    """The octue interpreter (the test is skipped without it, or fails when it is required)."""
    require_octue()
    return OCTUE_PYTHON


def octue_package() -> str:
    """The folder of the installed `octue` package (call after `require_octue`)."""
    return _octue_environment()["package"]


def templates_folder() -> str:
    """`octue/twined/templates` inside the installed octue package."""
    return os.path.join(octue_package(), "twined", "templates")
