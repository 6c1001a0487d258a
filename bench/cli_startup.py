"""Start-up benchmark of the command-line tool: the wall time of `python -m octue_beam [COMMAND] --help` (median of
N runs) for each command, and whether it imports apache_beam (from `python -X importtime`).

    /tmp/venv/bin/python bench/cli_startup.py [--runs 15]
    # against another checkout (its own venv), interleaved with this one so both see the same machine load:
    /tmp/venv/bin/python bench/cli_startup.py --baseline-python /tmp/venv-base/bin/python --baseline-repo /tmp/base
    # or only another checkout:
    /tmp/venv/bin/python bench/cli_startup.py --python /tmp/venv-base/bin/python --repo /tmp/base

Each command runs with the checkout as its working folder, so `-m octue_beam` imports that checkout's package.

Measured on the 2-core machine (Python 3.11.7, apache-beam 2.77; 15 runs per command, before and after interleaved),
before = commit 52d78a5 (the single `cli.py`, whose parser set-up imported every command module and through them
the pipeline package and Beam), after = the `octue_beam/cli/` package. Other test suites ran on the machine at the
same time (load average 2 to 5 on 2 cores), so the medians are noisy; the minimums are the quiet-machine figures.
Wall time in seconds, median (min):

    command                before          after           apache_beam imported
    --help                 2.23 (1.88)     0.16 (0.12)     before: yes, after: no
    run --help             2.67 (2.15)     0.22 (0.11)     before: yes, after: no
    ask --help             2.42 (1.83)     0.17 (0.11)     before: yes, after: no
    ask-local --help       2.28 (1.93)     0.12 (0.11)     before: yes, after: no
    diagnostics --help     4.48 (2.76)     0.28 (0.11)     before: yes, after: no

A second run under heavier load gave the same picture (`ask --help`: 3.22 (1.93) before, 0.23 (0.17) after). The
commands themselves: `ask`, `ask-local` and `diagnostics` import what does their work when they run (the Pub/Sub
client, the data resources), never Beam; `run` imports Beam in its handler (tests/test_cli_imports.py checks both).
"""

import argparse
import dataclasses
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
COMMANDS = ([], ["run"], ["ask"], ["ask-local"], ["diagnostics"])


@dataclasses.dataclass(frozen=True)
class Target:
    """A Python interpreter and the checkout whose `octue_beam` it runs."""

    name: str
    python: str
    repo: Path


def wall_time(target: Target, arguments: list[str]) -> float:
    """Seconds `python -m octue_beam <arguments>` takes, from start to exit."""
    start = time.perf_counter()
    subprocess.run(
        [target.python, "-m", "octue_beam", *arguments],
        cwd=target.repo, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, timeout=120,
    )
    return time.perf_counter() - start


def beam_import_seconds(target: Target, arguments: list[str]) -> float | None:
    """The cumulative import time of `apache_beam` in `python -X importtime -m octue_beam <arguments>` (seconds),
    or None when apache_beam is not imported."""
    completed = subprocess.run(
        [target.python, "-X", "importtime", "-m", "octue_beam", *arguments],
        cwd=target.repo, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=True, timeout=120,
    )
    for line in completed.stderr.splitlines():
        if line.startswith("import time:") and line.rsplit("|", 1)[1].strip() == "apache_beam":
            return int(line.split("|")[1]) / 1e6
    return None


def measure(targets: list[Target], runs: int) -> dict[tuple[str, str], tuple[list[float], float | None]]:
    """For each (target, command): the wall times of `runs` runs (targets interleaved) and Beam's import time."""
    results = {}
    for command in COMMANDS:
        arguments = [*command, "--help"]
        label = " ".join(arguments)
        for target in targets:
            wall_time(target, arguments)  # warm the file cache; not counted
        times: dict[str, list[float]] = {target.name: [] for target in targets}
        for _ in range(runs):
            for target in targets:
                times[target.name].append(wall_time(target, arguments))
        for target in targets:
            results[(target.name, label)] = (times[target.name], beam_import_seconds(target, arguments))
    return results


def report(targets: list[Target], results: dict, runs: int) -> None:
    print(f"python -m octue_beam ... --help: median wall time of {runs} runs (s) and apache_beam's import time")
    for target in targets:
        print(f"  {target.name}: {target.python} in {target.repo}")
    columns = "".join(f"{target.name + ' median':>18}{'min':>8}{'apache_beam':>14}" for target in targets)
    print(f"{'command':<22}{columns}")
    for command in COMMANDS:
        label = " ".join([*command, "--help"])
        row = f"{label:<22}"
        for target in targets:
            times, beam = results[(target.name, label)]
            beam_text = "not imported" if beam is None else f"{beam:.2f} s"
            row += f"{statistics.median(times):>18.3f}{min(times):>8.3f}{beam_text:>14}"
        print(row)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default=sys.executable, help="interpreter to measure (default: this one)")
    parser.add_argument("--repo", type=Path, default=REPOSITORY, help="checkout to measure (default: this one)")
    parser.add_argument("--baseline-python", help="interpreter of a checkout to compare with (e.g. a venv of it)")
    parser.add_argument("--baseline-repo", type=Path, help="checkout to compare with, measured interleaved")
    parser.add_argument("--runs", type=int, default=15, help="runs per command and checkout (default: 15)")
    args = parser.parse_args()
    targets = []
    if args.baseline_repo or args.baseline_python:
        if not (args.baseline_repo and args.baseline_python):
            parser.error("--baseline-python and --baseline-repo go together")
        targets.append(Target("before", args.baseline_python, args.baseline_repo.resolve()))
    targets.append(Target("after" if targets else "this", args.python, args.repo.resolve()))
    report(targets, measure(targets, args.runs), args.runs)


if __name__ == "__main__":
    main()
