"""The CLI starts fast: `--help` and the commands that never build a pipeline do not import Beam (only the `run`
command's handler does), and no `--help` imports the Google clients. Checked with `python -X importtime`, which
lists every module a process imports."""

import argparse
import subprocess
import sys

import pytest

from octue_beam.cli import build_parser
from tests.support.paths import REPOSITORY
from tests.support.service_dirs import write_service


def command_paths(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[list[str]]:
    """Every command and subcommand of the parser (`[]` for the top level), so a new command is checked too."""
    paths = [list(prefix)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, subparser in action.choices.items():
                paths += command_paths(subparser, (*prefix, name))
    return paths


HELP_COMMANDS = command_paths(build_parser())


def test_every_command_is_checked():
    names = {" ".join(command) for command in HELP_COMMANDS}
    assert {"run", "serve", "ask", "ask-local", "deploy dataflow", "deploy cloud-run", "events get"} <= names


def imported_modules(*arguments: str, exit_code: int = 0) -> list[str]:
    """The modules `python -m octue_beam <arguments>` imports, in import order."""
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "octue_beam", *arguments],
        cwd=REPOSITORY, capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == exit_code, completed.stderr[-3000:]
    lines = [line for line in completed.stderr.splitlines() if line.startswith("import time:")]
    modules = [line.rsplit("|", 1)[1].strip() for line in lines[1:]]  # the first line is the header
    assert "octue_beam.cli" in modules  # the listing is real
    return modules


def beam_modules(modules: list[str]) -> list[str]:
    return [name for name in modules if name.split(".")[0] == "apache_beam"]


@pytest.mark.parametrize("command", HELP_COMMANDS, ids=lambda command: " ".join(command) or "top-level")
def test_help_imports_neither_beam_nor_the_google_clients(command):
    modules = imported_modules(*command, "--help")
    assert beam_modules(modules) == []
    assert [name for name in modules if name.startswith(("google.cloud", "grpc"))] == []


def test_ask_local_runs_an_app_without_beam(tmp_path):
    folder = write_service(tmp_path / "here")
    modules = imported_modules("ask-local", str(folder), "--input-values", '{"a": 1}')
    assert "octue_beam.service.local" in modules
    assert beam_modules(modules) == []


@pytest.mark.parametrize(
    "arguments",
    [["ask", "test-org/anyone:1.0.0", "--input-values", "{not json"], ["diagnostics", "not/a/cloud/path"]],
    ids=["ask", "diagnostics"],
)
def test_ask_and_diagnostics_run_their_handlers_without_beam(arguments):
    """Both handlers run (they import what does their work) and stop at an argument error, exit code 1."""
    modules = imported_modules(*arguments, exit_code=1)
    assert "octue_beam.asking" in modules or "octue_beam.service.diagnostics" in modules
    assert beam_modules(modules) == []
