"""Batch benchmark: the same N questions answered by `batch` and by the streaming service, in one run (by hand).

    python bench/batch.py [--questions 1000] [--service trivial|fractal] [--modes default,workers] [--skip-streaming]

Writes N questions to a JSON lines file (the trivial echo service of bench/trivial_service: {"n": i}; or the
fractal example with a small surface: {"width": 8 + i % 8, "height": 8, "n_iterations": 16}), then:

- batch: `python -m octue_beam batch SERVICE --questions Q --answers A` in a subprocess, once per `--modes` entry
  (`default`: the command's defaults, which choose between its own process and worker processes by the file's size
  and the CPUs; `in_memory`: `--direct_running_mode in_memory`, one process; `workers`: one worker process per CPU,
  at least two). Reported: questions/s over the whole command (Python start-up, Beam, loading the service, writing
  the answers: what a user waits for), and over the answering phase alone (the summary's "answering took").
- streaming: a Pub/Sub emulator and `python -m octue_beam run SERVICE` on it (as bench/ask_multiple.py does), then
  the same N questions asked at once with `octue_beam.ask_multiple` once the service is ready (it is warmed up
  with 20 questions first). Reported: questions/s from the first question sent to the last answer, and the same
  counting the service's start-up.

Every answer is checked (the echo of its input, or a figure for the fractal), then the ratios are printed.
Goal (issue 10): batch at least 5x the streaming service.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
SERVICES = {
    "trivial": (REPOSITORY / "bench" / "trivial_service", "octue-beam-bench/trivial:bench"),
    "fractal": (REPOSITORY / "examples" / "fractal", "octue-beam-examples/fractal:bench"),
}
PROJECT = "octue-beam-bench"
TOPIC = "bench.batch.services"
MODES = {
    "default": [],
    "in_memory": ["--direct_running_mode", "in_memory"],
    "workers": ["--direct_running_mode", "multi_processing", "--direct_num_workers", str(max(2, os.cpu_count() or 1))],
}


def input_values(service: str, n: int) -> dict:
    if service == "trivial":
        return {"n": n}
    return {"width": 8 + n % 8, "height": 8, "n_iterations": 16}


def correct(service: str, n: int, output_values: dict | None) -> bool:
    if service == "trivial":
        return output_values == {"echo": n}
    return isinstance(output_values, dict) and "data" in output_values


def run_batch(service: str, count: int, folder: Path, mode: str) -> dict:
    """`batch` in a subprocess on the questions file; its figures."""
    service_dir, _ = SERVICES[service]
    questions, answers = folder / "questions.jsonl", folder / f"answers-{mode}.jsonl"
    command = [
        sys.executable, "-m", "octue_beam", "--log-level", "ERROR", "batch", str(service_dir), "--questions",
        str(questions), "--answers", str(answers), "--revision-tag", "bench", *MODES[mode],
    ]
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=REPOSITORY, capture_output=True, text=True, timeout=3600)
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"batch ({mode}) failed:\n{completed.stderr[-3000:]}")
    rows = [json.loads(line) for line in answers.read_text().splitlines()]
    wrong = sum(not correct(service, row["row"], row["output_values"]) for row in rows)
    answering = re.search(r"answering took ([\d.]+) s", completed.stdout)
    answering_seconds = float(answering.group(1)) if answering else None
    return {
        "mode": mode,
        "rows": len(rows),
        "wrong": wrong,
        "seconds": seconds,
        "rate": count / seconds,
        "answering_seconds": answering_seconds,
        "answering_rate": count / answering_seconds if answering_seconds else None,
        "summary": completed.stdout.strip(),
    }


def start_service(service: str, environment: dict) -> tuple[subprocess.Popen, float]:
    """`python -m octue_beam run SERVICE` on the emulator; the process and the seconds it took to be ready."""
    service_dir, _ = SERVICES[service]
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "octue_beam", "--log-level", "WARNING", "run", str(service_dir), "--runner",
         "DirectRunner", "--revision_tag", "bench"],
        cwd=REPOSITORY, env=environment, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
        text=True, start_new_session=True,
    )
    ready = threading.Event()

    def read() -> None:
        for line in process.stdout:
            if "is ready" in line:
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(300):
        stop(process)
        raise RuntimeError("the service did not get ready in 300 s")
    return process, time.perf_counter() - started


def stop(process: subprocess.Popen) -> None:
    from octue_beam.processes import stop_process_group

    stop_process_group(process, 20, 20)


def ask_all(service: str, count: int) -> tuple[float, int]:
    """Seconds to ask `count` questions at once with ask_multiple, and how many answers were wrong."""
    from octue_beam import ask_multiple

    _, sruid = SERVICES[service]
    started = time.perf_counter()
    answers = ask_multiple(
        [{"service_id": sruid, "input_values": input_values(service, n), "timeout": 1800} for n in range(count)],
        raise_errors=False,
    )
    seconds = time.perf_counter() - started
    wrong = sum(
        isinstance(answer, BaseException) or not correct(service, n, answer.get("output_values"))
        for n, (answer, _) in enumerate(answers)
    )
    return seconds, wrong


def run_streaming(service: str, count: int) -> dict:
    from octue_beam.asking.session import close_listeners
    from octue_beam.emulators.pubsub import PubSubEmulator
    from octue_beam.messaging.pubsub import ensure_topic

    emulator = PubSubEmulator().start()
    saved = dict(os.environ)
    os.environ.update({"PUBSUB_EMULATOR_HOST": emulator.host_port, "GOOGLE_CLOUD_PROJECT": PROJECT,
                       "TWINED_SERVICES_TOPIC_NAME": TOPIC})
    process = None
    try:
        ensure_topic(PROJECT, TOPIC)
        environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
        environment.pop("STORAGE_EMULATOR_HOST", None)
        process, startup = start_service(service, environment)
        ask_all(service, 20)  # warm up: the answer subscription, the service's worker
        seconds, wrong = ask_all(service, count)
    finally:
        if process is not None:
            stop(process)
        close_listeners()
        emulator.stop()
        os.environ.clear()
        os.environ.update(saved)
    return {"startup": startup, "seconds": seconds, "wrong": wrong, "rate": count / seconds,
            "rate_with_startup": count / (seconds + startup)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=1000, help="questions (default 1000)")
    parser.add_argument("--service", choices=sorted(SERVICES), default="trivial", help="service (default trivial)")
    parser.add_argument("--modes", default="default,workers", help="batch modes, of default, in_memory, workers")
    parser.add_argument("--skip-streaming", action="store_true", help="measure batch only")
    args = parser.parse_args()
    modes = [mode for mode in args.modes.split(",") if mode]
    print(f"{args.questions} questions to the {args.service} service on {os.cpu_count()} CPUs", flush=True)
    figures: dict = {"questions": args.questions, "service": args.service, "cpus": os.cpu_count(), "batch": {}}
    with tempfile.TemporaryDirectory(prefix="octue-beam-bench-batch-") as folder:
        questions = Path(folder) / "questions.jsonl"
        questions.write_text("".join(
            json.dumps({"input_values": input_values(args.service, n)}) + "\n" for n in range(args.questions)
        ))
        for mode in modes:
            result = run_batch(args.service, args.questions, Path(folder), mode)
            figures["batch"][mode] = result
            answering = (f", answering phase {result['answering_rate']:.0f} questions/s "
                         f"({result['answering_seconds']:.1f} s)" if result["answering_rate"] else "")
            print(f"batch ({mode}): {result['rate']:.0f} questions/s over the whole command "
                  f"({result['seconds']:.1f} s){answering}; {result['rows']} rows, {result['wrong']} wrong", flush=True)
    if not args.skip_streaming:
        streaming = run_streaming(args.service, args.questions)
        figures["streaming"] = streaming
        print(f"streaming: {streaming['rate']:.0f} questions/s with ask_multiple to the ready service "
              f"({streaming['seconds']:.1f} s; {streaming['wrong']} wrong); {streaming['rate_with_startup']:.0f} "
              f"questions/s counting its start-up ({streaming['startup']:.1f} s)", flush=True)
        for mode, result in figures["batch"].items():
            ratios = {"whole command vs ready service": result["rate"] / streaming["rate"],
                      "whole command vs service with start-up": result["rate"] / streaming["rate_with_startup"]}
            if result["answering_rate"]:
                ratios["answering phase vs ready service"] = result["answering_rate"] / streaming["rate"]
            result["ratios"] = ratios
            print(f"ratio batch ({mode}) / streaming: "
                  + ", ".join(f"{value:.1f}x ({name})" for name, value in ratios.items()), flush=True)
    print(json.dumps(figures, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
