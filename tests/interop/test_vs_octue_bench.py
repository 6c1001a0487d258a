"""`bench/vs_octue.py --quick` (the side-by-side benchmark against Octue 0.69.1) runs in one command and prints its
table: both services served on one emulator, each asked by its own SDK. Its figures are not checked (no timings in
tests): the smoke run only proves the benchmark still works. Skipped without the octue environment, failed in CI."""

import subprocess
import sys

from tests.support.octue import OCTUE_PYTHON, require_octue
from tests.support.paths import REPOSITORY

ROWS = (
    "sequential round trip, log forwarding off, p50",
    "sequential round trip, log forwarding off, p95",
    "service RSS when idle (whole process tree)",
    "launch to first answer",
    "service CPU per sequential question",
    "5 in flight: a burst of 5",
    "5 in flight: 10 questions, 5 at a time (Octue: its burst)",
)


def test_the_quick_side_by_side_prints_every_row_with_both_sdks_and_a_ratio():
    require_octue()
    completed = subprocess.run(
        [sys.executable, "bench/vs_octue.py", "--quick", "--octue-python", OCTUE_PYTHON],
        cwd=REPOSITORY, capture_output=True, text=True, timeout=600,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    lines = completed.stdout.splitlines()
    assert "| row | Octue 0.69.1 | octue_beam | octue_beam / Octue |" in lines
    for row in ROWS:
        [line] = [line for line in lines if line.startswith(f"| {row} |")]
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        assert len(cells) == 4, line
        assert cells[1][0].isdigit() and cells[2][0].isdigit(), line  # a figure for each SDK
        assert cells[3].endswith(("(at or better)", "(behind)")), line
    assert any(line.startswith("octue_beam's RSS includes") for line in lines)
