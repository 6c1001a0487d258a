"""Benchmark: build, serialise, deserialise and validate a manifest of one dataset of 10,000 files.

Run by hand (not in CI):

    python bench/manifests.py [--files 10000] [--compare-files 1000] [--octue-python /work/octue-venv/bin/python]

Steps timed (seconds each) on a folder of tiny files whose tags and labels live in the folder's `.octue` file:
build the Dataset from the folder, make a Manifest of it (as a dataset object listing every file), serialise it to
JSON, deserialise it, validate it against a twine whose dataset has a `file_tags_template`. Peak memory is
measured with tracemalloc in a second pass (Python allocations) and as the process's peak RSS.

Comparison with Octue: building a 1,000-file dataset from one folder, here and with `octue==0.69.1` installed
in a separate virtual environment (never a project dependency): `python3 -m venv /work/octue-venv &&
/work/octue-venv/bin/pip install octue==0.69.1`. The Octue interpreter is found with `--octue-python`, the
OCTUE_PYTHON environment variable, or /work/octue-venv/bin/python; without it the comparison is skipped.
Goals: whole round trip under 1 s and 200 MB; building at least 20x faster than Octue.
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from octue_beam import Dataset, Manifest
from octue_beam.resources import local_metadata

DEFAULT_OCTUE_PYTHON = "/work/octue-venv/bin/python"

TWINE = {
    "input_manifest": {
        "datasets": {
            "raw": {
                "purpose": "benchmark files",
                "file_tags_template": {
                    "type": "object",
                    "properties": {"sequence": {"type": "integer", "minimum": 0}, "height": {"type": "number"}},
                    "required": ["sequence", "height"],
                },
            }
        }
    }
}


def make_folder(root: str, n_files: int) -> str:
    """`n_files` tiny CSV files plus a `.octue` file (Octue's shape) giving each tags and labels."""
    os.makedirs(root, exist_ok=True)
    records = {}
    for index in range(n_files):
        name = f"file_{index:05d}.csv"
        with open(os.path.join(root, name), "w") as f:
            f.write(f"{index},{index * 2}\n")
        records[name] = {
            "id": str(uuid.uuid4()),
            "timestamp": None,
            "tags": {"sequence": index, "height": index % 100},
            "labels": {"_type": "set", "items": ["raw", "timeseries"]},
        }
    metadata = {
        "datafiles": records,
        "dataset": {"id": str(uuid.uuid4()), "name": "raw", "tags": {"site": 1}, "labels": ["bench"]},
    }
    with open(os.path.join(root, ".octue"), "w") as f:
        json.dump(metadata, f)
    return root


def validator():
    """octue_beam.Twine when available, else jsonschema directly on the file tags."""
    try:
        from octue_beam.twine import Twine

        twine = Twine(source=TWINE)

        def validate(primitive, manifest):
            twine.validate(input_manifest=primitive)
            twine.validate_file_tags("input_manifest", manifest)

        return "octue_beam.Twine", validate
    except ImportError:
        import jsonschema

        schema = TWINE["input_manifest"]["datasets"]["raw"]["file_tags_template"]
        check = jsonschema.Draft202012Validator(schema)

        def validate(primitive, manifest):
            for datafile in manifest.get_dataset("raw").files:
                check.validate(dict(datafile.tags))

        return "jsonschema", validate


def round_trip(folder: str, validate) -> dict:
    times = {}
    local_metadata.forget()
    start = time.perf_counter()
    dataset = Dataset(folder)
    times["build dataset from folder"] = time.perf_counter() - start

    start = time.perf_counter()
    manifest = Manifest(
        datasets={
            "raw": Dataset(
                path=folder, files=dataset.files, name=dataset.name, tags=dataset.tags, labels=dataset.labels
            )
        }
    )
    times["build manifest"] = time.perf_counter() - start

    start = time.perf_counter()
    text = manifest.serialise()
    times["serialise"] = time.perf_counter() - start

    start = time.perf_counter()
    again = Manifest.deserialise(text, from_string=True)
    times["deserialise"] = time.perf_counter() - start

    start = time.perf_counter()
    validate(json.loads(text), again)
    times["validate"] = time.perf_counter() - start

    assert len(again.get_dataset("raw")) == len(dataset)
    assert again.serialise() == text
    times["total"] = sum(times.values())
    times["json_bytes"] = len(text)
    return times


def time_octue_beam_build(folder: str) -> float:
    local_metadata.forget()
    start = time.perf_counter()
    dataset = Dataset(folder)
    elapsed = time.perf_counter() - start
    assert len(dataset.files) > 0
    return elapsed


OCTUE_SCRIPT = """
import json, logging, sys, time
logging.disable(logging.CRITICAL)
from octue.resources import Dataset
start = time.perf_counter()
dataset = Dataset(path=sys.argv[1])
elapsed = time.perf_counter() - start
assert len(dataset.files) == int(sys.argv[2]), len(dataset.files)
print(json.dumps({"seconds": elapsed}))
"""


def time_octue_build(octue_python: str, folder: str, n_files: int) -> float:
    result = subprocess.run(
        [octue_python, "-c", OCTUE_SCRIPT, folder, str(n_files)], capture_output=True, text=True, timeout=1800
    )
    if result.returncode != 0:
        raise RuntimeError(f"Octue failed: {result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])["seconds"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--compare-files", type=int, default=1_000)
    parser.add_argument("--octue-python", default=os.environ.get("OCTUE_PYTHON"))
    parser.add_argument("--repeat", type=int, default=3, help="round trips to run (the best is reported)")
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="octue-beam-bench-")
    try:
        folder = make_folder(os.path.join(workdir, "raw"), args.files)
        validator_name, validate = validator()
        print(f"Manifest round trip, one dataset of {args.files} files (validation with {validator_name}):")
        runs = [round_trip(folder, validate) for _ in range(args.repeat)]
        best = min(runs, key=lambda run: run["total"])
        for step, seconds in best.items():
            if step == "json_bytes":
                print(f"  serialised manifest: {seconds / 1e6:.2f} MB")
            else:
                print(f"  {step:<28} {seconds:8.3f} s")

        tracemalloc.start()
        round_trip(folder, validate)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"  peak Python allocations during a round trip (tracemalloc): {peak / 1e6:.1f} MB")
        print(f"  peak RSS of the whole process (imports included): {peak_rss:.1f} MB")
        goal_time = "met" if best["total"] < 1 else "NOT met"
        goal_memory = "met" if peak / 1e6 < 200 else "NOT met"
        print(f"  goals: round trip < 1 s {goal_time}; < 200 MB {goal_memory}")

        print(f"\nBuilding a {args.compare_files}-file dataset from one folder:")
        compare_folder = make_folder(os.path.join(workdir, "compare"), args.compare_files)
        ours = min(time_octue_beam_build(compare_folder) for _ in range(3))
        print(f"  octue_beam: {ours:.4f} s")
        octue_python = args.octue_python or (DEFAULT_OCTUE_PYTHON if os.path.exists(DEFAULT_OCTUE_PYTHON) else None)
        if not octue_python or not os.path.exists(octue_python):
            print(
                "  octue: SKIPPED (no Octue interpreter: install octue==0.69.1 in a separate venv and pass "
                "--octue-python or set OCTUE_PYTHON)"
            )
            return 0
        theirs = time_octue_build(octue_python, compare_folder, args.compare_files)
        print(f"  octue 0.69 ({octue_python}): {theirs:.4f} s")
        ratio = theirs / ours
        print(f"  ratio: octue_beam is {ratio:.0f}x faster (goal >= 20x: {'met' if ratio >= 20 else 'NOT met'})")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
