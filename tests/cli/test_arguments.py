"""Newcomer rough edges in the commands' arguments (issue 12): abbreviations and typos are refused naming the closest
option, real Beam options still pass through `run`, a missing JSON file is called missing, and a broken twine.json
is named with the position of the error."""

import subprocess
import sys

import pytest

from octue_beam import exceptions
from octue_beam.cli import build_parser, main
from octue_beam.cli.arguments import TYPO_CUTOFF, CommandError, load_json_argument
from octue_beam.cli.run import PIPELINE_OPTIONS_NEAR_RUN_OPTIONS
from octue_beam.service.local import run_locally
from tests.support.paths import FIXTURES, REPOSITORY
from tests.support.service_dirs import write_service

ABBREVIATED = {
    "ask": (["ask", "test-org/anyone:1.0.0", "--input-value", "{}"], "--input-value", "--input-values"),
    "ask-local": (["ask-local", ".", "--input-value", "{}"], "--input-value", "--input-values"),
    "run": (["run", ".", "--ask-time", "5"], "--ask-time", "--ask-timeout"),
    "diagnostics": (["diagnostics", "gs://b/p", "--local-pat", "x"], "--local-pat", "--local-path"),
}


@pytest.mark.parametrize("command", sorted(ABBREVIATED))
def test_abbreviated_options_are_refused_naming_the_option_meant(command, capsys):
    arguments, given, meant = ABBREVIATED[command]
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(arguments)
    assert exited.value.code == 2
    assert f"unknown option {given}; did you mean {meant}?" in capsys.readouterr().err


def test_a_typo_of_a_run_option_stops_run_at_once_naming_the_closest_option():
    """Refused by the parser: no emulator, no pipeline process, no Beam import (today's Beam would only warn)."""
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "octue_beam", "run", str(FIXTURES / "behaviours"), "--askk",
         '{"action": "echo"}'],
        cwd=REPOSITORY, capture_output=True, text=True, timeout=60,
    )
    assert completed.returncode == 2
    assert "unknown option --askk; did you mean --ask?" in completed.stderr
    assert "apache_beam" not in completed.stderr


def test_an_unknown_pipeline_option_stops_run_naming_the_closest_beam_option(pubsub_emulator, storage_emulator):
    completed = subprocess.run(
        [sys.executable, "-m", "octue_beam", "run", str(FIXTURES / "behaviours"), "--heartbeat_intervall", "5"],
        cwd=REPOSITORY, capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 1, completed.stderr[-3000:]
    assert "unknown option --heartbeat_intervall; did you mean --heartbeat_interval?" in completed.stderr
    assert "is ready" not in completed.stdout


def test_beam_and_service_options_pass_the_check():
    from octue_beam.cli.serving import check_pipeline_arguments

    check_pipeline_arguments([
        "--heartbeat_interval", "5", "--max_concurrent_questions=3", "--streaming", "--region", "europe-west1",
        "--temp_location", "gs://bucket/tmp", "--dry_run", "True", "--experiments=use_runner_v2",
    ])
    with pytest.raises(CommandError, match="unknown option --regoin; did you mean --region?"):
        check_pipeline_arguments(["--regoin", "europe-west1"])


def test_no_beam_option_is_close_enough_to_a_run_option_to_be_refused_as_its_typo():
    """`run` refuses, before Beam is imported, unknown options this close to its own: no real one may be."""
    import difflib

    from octue_beam.cli.serving import beam_option_parser

    run = build_parser()._subparsers._group_actions[0].choices["run"]
    beam = {option for action in beam_option_parser()._actions for option in action.option_strings}
    assert len(beam) > 100  # the listing is real
    close = {
        option: difflib.get_close_matches(option, run.own_options, n=1, cutoff=TYPO_CUTOFF)
        for option in beam - set(run.own_options)
    }
    # The few that are this close are passed through by name, and are real Beam options.
    assert {option for option, match in close.items() if match} == set(PIPELINE_OPTIONS_NEAR_RUN_OPTIONS)
    assert set(PIPELINE_OPTIONS_NEAR_RUN_OPTIONS) <= beam
    parsed = build_parser().parse_args(["run", ".", "--service_dir", ".", "--beam_services", "{}"])
    assert parsed.pipeline_args == ["--service_dir", ".", "--beam_services", "{}"]


def test_a_missing_json_file_is_called_missing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for value in ("nofile.json", "inputs/values", "./values"):
        with pytest.raises(CommandError, match=f"--input-values: no such file '{value}'"):
            load_json_argument(value, "--input-values")
    with pytest.raises(CommandError, match="not valid JSON"):
        load_json_argument('{"a": 1', "--input-values")  # JSON with a typo is still invalid JSON
    (tmp_path / "values.json").write_text('{"a": 1}')
    assert load_json_argument("values.json", "--input-values") == {"a": 1}
    assert main(["ask", "test-org/anyone:1.0.0", "--input-values", "nofile.json"]) == 1
    assert "no such file 'nofile.json'" in capsys.readouterr().err


def test_an_invalid_twine_json_is_named_with_the_position(tmp_path):
    folder = write_service(tmp_path / "broken", twine='{"input_values_schema": {"type": "object",}}')
    with pytest.raises(exceptions.InvalidTwineJson) as raised:
        run_locally(folder, input_values={})
    assert str(folder / "twine.json") in str(raised.value)
    assert "line 1 column 43 (char 42)" in str(raised.value)
