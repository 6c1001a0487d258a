"""README's quick start 1 is one command whose install shows its progress (apache-beam takes minutes to install: a
quiet pip left a newcomer with minutes of silence, issue 12)."""

import re
import shlex

from tests.support.paths import REPOSITORY


def _quick_start_commands() -> dict[str, str]:
    """The numbered commands of the README's quick start: {"1": command, ...}."""
    text = (REPOSITORY / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = section.split("```shell", 1)[1].split("```", 1)[0]
    return dict(re.findall(r"^# (\d+)\..*\n(.+)$", block, re.MULTILINE))


def test_quick_start_1_is_one_command_whose_install_shows_progress():
    command = _quick_start_commands()["1"]
    steps = [shlex.split(step) for step in command.split("&&")]
    installs = [step for step in steps if "pip" in step[0] and step[1] == "install"]
    assert installs, command
    for install in installs:
        assert not {"-q", "--quiet", "-qq"} & set(install), command
    assert "octue_beam run examples/fractal --ask" in command
