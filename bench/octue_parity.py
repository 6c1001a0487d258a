"""Record the Octue SDK's accept/reject decisions on the twine parity cases, for tests/twine/test_octue_parity.py.

Run by hand with a Python that has `octue` installed (a separate venv, never a dependency of this project):

    /path/to/octue-venv/bin/python bench/octue_parity.py > tests/twine/data/octue_decisions.json

Only cases that validate offline in Octue are used (values strands, twine loading, required strands): Octue
fetches its children and manifest schemas over the network.
"""

import json
import sys
from pathlib import Path

from octue.twined import Twine  # the Octue SDK, not octue_beam

CASES = json.loads((Path(__file__).parents[1] / "tests" / "twine" / "data" / "parity_cases.json").read_text())


def decide(function):
    try:
        function()
        return "accept"
    except Exception as error:  # noqa: BLE001
        return f"reject:{type(error).__name__}"


def main() -> None:
    twines = {name: Twine(source=json.dumps(source)) for name, source in CASES["twines"].items()}
    decisions = {
        "twine_sources": [decide(lambda s=source: Twine(source=json.dumps(s))) for source in CASES["twine_sources"]],
        "values": [
            decide(lambda t=twines[name], s=strand, d=data: getattr(t, f"validate_{s}")(json.dumps(d)))
            for name, strand, data in CASES["values"]
        ],
        "validate_calls": [
            decide(lambda t=twines[name], k=kwargs: t.validate(**k)) for name, kwargs in CASES["validate_calls"]
        ],
    }
    json.dump(decisions, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
