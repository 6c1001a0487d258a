"""Several services in one repository (examples/two-services): each command that takes a service folder takes
`--service NAME`, and one `run` serves them all."""

import json
import subprocess
import sys

from octue_beam import ask
from tests.support.paths import REPOSITORY

EXAMPLE = REPOSITORY / "examples" / "two-services"
UNITS_QUESTION = {"value": 10, "from": "m/s", "to": "km/h"}


def octue_beam_command(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "octue_beam", *arguments], capture_output=True, text=True, timeout=120, cwd=REPOSITORY
    )


def test_ask_local_answers_the_service_named_by_service():
    done = octue_beam_command(
        "ask-local", str(EXAMPLE), "--service", "units", "--input-values", json.dumps(UNITS_QUESTION)
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["output_values"] == {"value": 36.0}
    done = octue_beam_command(
        "ask-local", str(EXAMPLE), "--service", "statistics", "--input-values", '{"numbers": [1, 2, 6]}'
    )
    assert done.returncode == 0, done.stderr
    summary = {"count": 3, "mean": 3.0, "median": 2, "minimum": 1, "maximum": 6}
    assert json.loads(done.stdout)["output_values"] == summary


def test_a_command_without_service_on_a_folder_of_several_names_them():
    done = octue_beam_command("ask-local", str(EXAMPLE), "--input-values", json.dumps(UNITS_QUESTION))
    assert done.returncode == 1
    assert "lists 2 services (statistics, units): choose one with --service NAME" in done.stderr
    assert done.stdout == ""


def test_one_run_serves_and_answers_both_services(local_service):
    """`run examples/two-services` with no --service serves both: the first in its pipeline process, the other as a
    companion on the same topic; a question to each gets its own service's answer."""
    service = local_service(EXAMPLE, environment={"STORAGE_EMULATOR_HOST": None}, cwd=REPOSITORY)
    assert service.sruids == ["octue-beam-examples/statistics:local", "octue-beam-examples/units:local"]
    statistics, _ = service.ask({"numbers": [4, 8]})
    assert statistics["output_values"]["mean"] == 6.0
    units, _ = ask(service.sruids[1], UNITS_QUESTION, topic_name=service.topic_name, timeout=120)
    assert units["output_values"] == {"value": 36.0}
