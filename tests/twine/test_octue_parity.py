"""octue_beam's Twine makes the same accept/reject decisions as the Octue SDK 0.69.1.

The Octue decisions in data/octue_decisions.json were recorded by running bench/octue_parity.py with the real
`octue` package (in a separate virtual environment) on the cases in data/parity_cases.json.
"""

import json
from pathlib import Path

import pytest

from octue_beam import Twine

DATA = Path(__file__).parent / "data"
CASES = json.loads((DATA / "parity_cases.json").read_text())
OCTUE = json.loads((DATA / "octue_decisions.json").read_text())
TWINES = {name: Twine(source=source) for name, source in CASES["twines"].items()}


def decide(function):
    try:
        function()
        return "accept"
    except Exception as error:  # noqa: BLE001
        return error


def assert_same_decision(ours, octue):
    if octue == "accept":
        assert ours == "accept", f"Octue accepts, octue_beam rejects: {ours!r}"
    else:
        assert ours != "accept", f"Octue rejects ({octue}), octue_beam accepts"
        names = {cls.__name__ for cls in type(ours).__mro__}
        assert octue.split(":")[1] in names, f"Octue raises {octue}, octue_beam {type(ours).__name__}: {ours}"


@pytest.mark.parametrize("index", range(len(CASES["twine_sources"])))
def test_twine_loading(index):
    source = CASES["twine_sources"][index]
    assert_same_decision(decide(lambda: Twine(source=json.dumps(source))), OCTUE["twine_sources"][index])


@pytest.mark.parametrize("index", range(len(CASES["values"])))
def test_values(index):
    name, strand, data = CASES["values"][index]
    ours = decide(lambda: getattr(TWINES[name], f"validate_{strand}")(data, loaded=True))
    assert_same_decision(ours, OCTUE["values"][index])


@pytest.mark.parametrize("index", range(len(CASES["validate_calls"])))
def test_validate_calls(index):
    name, kwargs = CASES["validate_calls"][index]
    assert_same_decision(decide(lambda: TWINES[name].validate(**kwargs, loaded=True)), OCTUE["validate_calls"][index])
