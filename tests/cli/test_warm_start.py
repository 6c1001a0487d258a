"""The pipeline process of a local `run` starts warm (`cli.warm_start`): before `run` has checked anything, importing
Beam meanwhile, then told what to run (tests/cli/test_lean_serving.py: the pipeline process a `run` serves with); or,
never told, it leaves without a trace."""

import os

from octue_beam.cli.warm_start import WarmProcess


def test_a_warm_process_never_told_what_to_run_leaves_quietly(capfd):
    warm = WarmProcess(["run", "nowhere"])
    assert "octue_beam.cli.warm_start run nowhere --control-fd" in " ".join(warm.process.args)
    warm.discard()
    assert warm.process.wait(timeout=30) is not None
    warm.discard()  # twice is harmless
    assert "Traceback" not in capfd.readouterr().err


def test_a_warm_process_that_died_is_not_used():
    """If the warm process is gone when it is needed (killed, or it could not import Beam), `activate` says so and
    the supervisor starts its pipeline process the usual way."""
    warm = WarmProcess(["run", "nowhere"])
    warm.process.kill()
    warm.process.wait(timeout=30)
    assert warm.activate(["python", "-m", "octue_beam", "run", "nowhere"], dict(os.environ)) is None
    assert warm.used  # discarded: nothing left to stop
