"""The trivial service the batch tests ask: doubles `n`; crashes on request (-1: an exception, -2: `sys.exit`), hangs
(-4: sleeps 10 s) or answers 0.1 + 0.2 (-3)."""

from pathlib import Path

from tests.support.service_dirs import write_service

APP = """
import sys
import time


def run(analysis):
    n = analysis.input_values["n"]
    if n == -1:
        raise RuntimeError("the app crashed on purpose")
    if n == -2:
        sys.exit(3)
    if n == -4:
        time.sleep(10)
    if n == -3:
        analysis.output_values = {"double": 0.1 + 0.2}
        return
    analysis.output_values = {"double": 2 * n}
"""

TWINE = {
    "input_values_schema": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]},
    "output_values_schema": {"type": "object", "properties": {"double": {"type": "number"}}, "required": ["double"]},
}

SERVICE = {"namespace": "batch-tests", "name": "doubler"}
SRUID = "batch-tests/doubler:local"


def write_doubler(folder: Path) -> Path:
    """The doubling service in `folder`, revision `local`."""
    return write_service(folder, app=APP, twine=TWINE, service=SERVICE)
