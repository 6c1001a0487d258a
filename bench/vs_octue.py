"""octue_beam against the Octue SDK 0.69.1, side by side on ONE Pub/Sub emulator (run by hand, one command):

    python bench/vs_octue.py [--rounds 3] [--sequential 40] [--in-flight 50] [--kept 1000] [--max-load 1.5]
                             [--octue-python /work/octue-venv/bin/python] [--quick] [--json FILE]
                             [--baseline-source DIR]

Each side serves the same trivial echo app (bench/trivial_service: app.py, twine.json, octue.yaml) and is asked by
its own SDK from a long-lived asker process (so no asker pays its imports inside a measurement):

- Octue: `octue twined service start -c bench/trivial_service/octue.yaml` (its own CLI, in the interpreter given by
  `--octue-python`: the virtual environment CI makes for the interop tests, tests/support/octue.py), asked with
  `Child.ask` / `Child.ask_multiple`. The emulator applies no subscription filters, on which Octue relies, so both
  Octue processes load tests/asking/octue_messaging_side.py first, which emulates them client-side and switches
  off Octue's event validation (its schema is fetched over HTTP).
- octue_beam: `python -m octue_beam run bench/trivial_service` (the supervisor and its pipeline process, plus the
  storage emulator when `run` starts one), asked with `octue_beam.ask` / `octue_beam.ask_multiple`.

The two sides use different topics on the one emulator (Octue's service would otherwise receive octue_beam's
traffic), and never serve at the same time: a round serves and measures one side, then the other, alternating
which goes first (A/B, B/A, ...) so that noise hits both. Per round and side:

- launch to first answer: from starting the service command to the answer of a question sent as soon as the
  service's subscription exists (the question waits in it until the service reads);
- service RSS when idle: the whole process tree of the service command after a warm-up and 2 s of idling (with
  the storage emulator's share said separately: it is in octue_beam's tree when `run` started it);
- sequential round trip p50/p95 with log forwarding off (`subscribe_to_logs=False` on both sides), and the
  service's CPU per sequential question: user+system CPU of the service tree (/proc) before and after them;
- 50 in flight: questions/s of `--in-flight` questions asked at once (a burst: it starts with 50 in flight and ends
  with one, and octue_beam answers it in about 0.3 s, so its first answer's latency weighs a lot), and of `--kept`
  questions asked with at most `--in-flight` in flight at a time (`ask_multiple` with `max_workers`): 50 in flight
  for most of the run. Octue is not asked that: each Octue question has its own ordered answer subscription and its
  own ordering key, the emulator delivers every message to every subscription (it ignores filters) and keeps a
  thread for every (ordered subscription, ordering key) pair it has seen, so 250 Octue questions 50 at a time took
  it to 15,322 threads and the machine to a load average of 5,000 (measured once). Its row compares with Octue's
  burst of 50, which lasts about 3 s at Octue's rate, so Octue's figure there is close to its steady rate.

Both SDKs run with bytecode caches, as in any installed environment: pip byte-compiled Octue when it installed it,
while an editable octue_beam checkout under `PYTHONDONTWRITEBYTECODE=1` (set on the development machines) compiled
its own modules at every start (about 0.1-0.2 s of octue_beam's launch): the benchmark unsets it for the services
and imports each octue_beam side's modules once before the first round.

With `--baseline-source DIR`, a third side serves and asks with octue_beam from another source tree (e.g. the
commit before a change: `git archive COMMIT | tar -x -C DIR`), so a change is measured before and after in the same
run, each as a ratio to Octue; the rounds rotate the order of the three sides.

Before each side of each round the benchmark waits (up to `--load-patience` s) for the 1-minute load average to
fall to `--max-load` (default 1.5, for 2 cores); a round in which a side started above it is refused: its figures
are left out, and the benchmark reports nothing when every round was refused. The load after each side is recorded
too but does not refuse a round: it is mostly the side's own work (Octue's 50 questions in flight alone raise it to
about 3.5 on 2 cores), not other jobs. The table gives the medians over the rounds kept and the ratio octue_beam /
Octue (for RSS, latency, start-up and CPU lower is better; for questions/s higher is better).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPOSITORY = BENCH.parent
SERVICE_DIR = BENCH / "trivial_service"
PROJECT = "octue-beam-vs-octue"
NAMESPACE, NAME = "octue-beam-bench", "trivial"
#: The sides: Octue, octue_beam (this checkout, or whatever PYTHONPATH names) and, with `--baseline-source`, another
#: octue_beam source tree (e.g. the commit before a change, from `git archive`), measured in the same run.
TOPICS = {"octue": "bench.vs.octue.services", "octue_beam": "bench.vs.beam.services",
          "baseline": "bench.vs.baseline.services"}
DEFAULT_OCTUE_PYTHON = os.environ.get("OCTUE_PYTHON") or "/work/octue-venv/bin/python"
OCTUE_SIDE = REPOSITORY / "tests" / "asking" / "octue_messaging_side.py"
QUESTION_TIMEOUT = 120

#: Loaded first by both Octue processes: the client-side subscription filters (see the module docstring), and
#: anonymous credentials for this benchmark's project.
OCTUE_PRELUDE = f"""
import sys
sys.path.insert(0, {str(OCTUE_SIDE.parent)!r})
import octue_messaging_side  # noqa: F401 - emulates the subscription filters, switches off event validation
import google.auth, google.auth.credentials
google.auth.default = lambda *args, **kwargs: (google.auth.credentials.AnonymousCredentials(), {PROJECT!r})
import logging
logging.getLogger("octue").setLevel(logging.WARNING)
from octue.twined.cloud.pub_sub.events import GoogleCloudPubSubEventHandler

_sender_type_filtered = GoogleCloudPubSubEventHandler._extract_and_validate_event


def _question_filtered(self, container):
    # The rest of an answer subscription's filter: only the events of its own question.
    if container.message.attributes.get("question_uuid") != self.subscription.name.rsplit(".", 1)[-1]:
        return None, None
    return _sender_type_filtered(self, container)


GoogleCloudPubSubEventHandler._extract_and_validate_event = _question_filtered
"""

OCTUE_SERVICE = OCTUE_PRELUDE + """
from octue.cli import octue_cli
octue_cli(["--log-level", "warning", "twined", "service", "start", "-c", sys.argv[1], "--revision-tag", sys.argv[2]])
"""

#: The asker: reads one command per line on stdin, answers one JSON line on stdout. `SDK` is set before this.
ASKER = """
import json, sys, time
import logging
logging.basicConfig(level=logging.ERROR)
logging.getLogger("octue").setLevel(logging.ERROR)

if SDK == "octue":
    from octue.twined.resources import Child

    def ask_one(sruid, n):
        child = Child(id=sruid, backend={"name": "GCPPubSubBackend", "project_id": PROJECT})
        answer, _ = child.ask(input_values={"n": n}, subscribe_to_logs=False, timeout=TIMEOUT)
        return answer["output_values"]

    def ask_many(sruid, count, in_flight):
        child = Child(id=sruid, backend={"name": "GCPPubSubBackend", "project_id": PROJECT})
        questions = [{"input_values": {"n": n}, "subscribe_to_logs": False, "timeout": TIMEOUT} for n in range(count)]
        answers = child.ask_multiple(*questions, raise_errors=False, max_workers=in_flight, log_errors=False)
        return [a if isinstance(a, BaseException) else a["output_values"] for a, _ in answers]
else:
    from octue_beam import ask, ask_multiple

    def ask_one(sruid, n):
        answer, _ = ask(sruid, {"n": n}, subscribe_to_logs=False, timeout=TIMEOUT, project=PROJECT)
        return answer["output_values"]

    def ask_many(sruid, count, in_flight):
        questions = [{"service_id": sruid, "input_values": {"n": n}, "subscribe_to_logs": False, "timeout": TIMEOUT,
                      "project": PROJECT} for n in range(count)]
        answers = ask_multiple(questions, max_workers=in_flight, raise_errors=False, log_errors=False)
        return [a if isinstance(a, BaseException) else a["output_values"] for a, _ in answers]

print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    command = json.loads(line)
    sruid, kind, count = command["sruid"], command["kind"], command.get("count", 1)
    if kind == "first":
        ask_one(sruid, 0)
        report = {"answered_at": time.time()}
    elif kind == "sequential":
        latencies = []
        for n in range(count):
            started = time.perf_counter()
            assert ask_one(sruid, n) == {"echo": n}
            latencies.append(time.perf_counter() - started)
        report = {"latencies": latencies}
    else:  # burst
        started = time.perf_counter()
        answers = ask_many(sruid, count, command.get("in_flight", count))
        elapsed = time.perf_counter() - started
        wrong = sum(answer != {"echo": n} for n, answer in enumerate(answers))
        report = {"seconds": elapsed, "wrong": wrong}
    print(json.dumps(report), flush=True)
"""

#: What an octue_beam side's `run` and pipeline process import (run once first, to write their bytecode caches).
WARM_UP_IMPORTS = (
    "import octue_beam.cli.run, octue_beam.cli.supervising, octue_beam.cli.warm_start, octue_beam.cli.serving"
)

NAMES = {"octue": "Octue 0.69.1", "octue_beam": "octue_beam", "baseline": "octue_beam baseline"}

ROWS = [
    # (key, label, unit, lower is better)
    ("sequential_p50_s", "sequential round trip, log forwarding off, p50", "s", True),
    ("sequential_p95_s", "sequential round trip, log forwarding off, p95", "s", True),
    ("idle_rss_mib", "service RSS when idle (whole process tree)", "MiB", True),
    ("launch_to_first_answer_s", "launch to first answer", "s", True),
    ("cpu_per_question_ms", "service CPU per sequential question", "ms", True),
    ("in_flight_questions_per_s", "{in_flight} in flight: a burst of {in_flight}", "questions/s", False),
    ("kept_in_flight_questions_per_s",
     "{in_flight} in flight: {kept} questions, {in_flight} at a time (Octue: its burst)", "questions/s", False),
]


def process_tree(root: int) -> list[int]:
    """`root` and its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    pids, stack = [], [root]
    while stack:
        pid = stack.pop()
        pids.append(pid)
        stack.extend(children.get(pid, []))
    return pids


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _role(pid: int) -> str:
    """A short name for a process of a service tree."""
    command = _command_line(pid)
    if "storage" in command and "emulator" in command:
        return f"storage emulator {pid}"
    if "--control-fd" in command:
        return f"pipeline process {pid}"
    if "octue_beam" in command:
        return f"run supervisor {pid}"
    return f"service {pid}"


def rss_mib(pids: list[int]) -> float:
    """Total RSS of these processes, MiB."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes (and of their waited-for children)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    return total / ticks


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


class Asker:
    """A long-lived asker process of one SDK."""

    def __init__(self, side: str, python: str, environment: dict) -> None:
        sdk = "octue" if side == "octue" else "octue_beam"
        prelude = OCTUE_PRELUDE if sdk == "octue" else ""
        source = f"{prelude}\nSDK = {sdk!r}\nPROJECT = {PROJECT!r}\nTIMEOUT = {QUESTION_TIMEOUT}\n{ASKER}"
        self.process = subprocess.Popen(
            [python, "-c", source], env={**environment, "TWINED_SERVICES_TOPIC_NAME": TOPICS[side]},
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None, text=True, start_new_session=True, cwd="/tmp",
        )
        self.request(None)

    def request(self, command: dict | None) -> dict:
        if command is not None:
            self.process.stdin.write(json.dumps(command) + "\n")
            self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the asker stopped (exit code {self.process.wait()})")
        return json.loads(line)

    def stop(self) -> None:
        from octue_beam.processes import stop_process_group

        self.process.stdin.close()
        stop_process_group(self.process, 10, 5)


class ServedService:
    """One side's service command in its own process group, with its output in a log file."""

    def __init__(self, side: str, tag: str, octue_python: str, environment: dict) -> None:
        from octue_beam.messaging.pubsub import service_subscription_name

        self.sdk = sdk = "octue" if side == "octue" else "octue_beam"
        self.sruid = f"{NAMESPACE}/{NAME}:{tag}"
        self.subscription = service_subscription_name(self.sruid)
        if sdk == "octue":
            command = [octue_python, "-c", OCTUE_SERVICE, str(SERVICE_DIR / "octue.yaml"), tag]
        else:
            command = [sys.executable, "-m", "octue_beam", "--log-level", "WARNING", "run", str(SERVICE_DIR),
                       "--runner", "DirectRunner", "--revision-tag", tag]
        self.log = tempfile.NamedTemporaryFile("w+", prefix=f"vs-octue-{sdk}-", suffix=".log", delete=False)
        self.launched_at = time.time()
        self.process = subprocess.Popen(
            command, env={**environment, "TWINED_SERVICES_TOPIC_NAME": TOPICS[side]}, stdin=subprocess.DEVNULL,
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True, cwd=str(SERVICE_DIR),
        )

    def wait_for_subscription(self, emulator_host: str, timeout: float = 300) -> None:
        url = f"http://{emulator_host}/v1/projects/{PROJECT}/subscriptions/{self.subscription}"
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2):
                    return
            except (urllib.error.URLError, OSError):
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the {self.sdk} service did not start; its output:\n{self.output()}")
            time.sleep(0.02)

    def tree(self) -> list[int]:
        return process_tree(self.process.pid)

    def storage_emulator_rss_mib(self) -> float:
        return rss_mib([pid for pid in self.tree() if "storage" in _command_line(pid) and "emulator" in
                        _command_line(pid)])

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text()[-6000:]

    def stop(self) -> None:
        from octue_beam.messaging.pubsub import delete_subscription
        from octue_beam.processes import stop_process_group

        stop_process_group(self.process, 20, 10)
        self.log.close()
        os.unlink(self.log.name)
        try:
            delete_subscription(PROJECT, self.subscription)
        except Exception:  # noqa: BLE001 - already gone
            pass


def wait_for_quiet(max_load: float, patience: float) -> float:
    """The 1-minute load average once it is at most `max_load`, or after `patience` seconds of waiting for it."""
    deadline = time.monotonic() + patience
    while os.getloadavg()[0] > max_load and time.monotonic() < deadline:
        time.sleep(5)
    return os.getloadavg()[0]


def measure_side(side: str, tag: str, asker: Asker, args: argparse.Namespace, environment: dict) -> dict:
    """Start one side's service, measure every row, stop it."""
    service = ServedService(side, tag, args.octue_python, environment)
    try:
        service.wait_for_subscription(environment["PUBSUB_EMULATOR_HOST"])
        figures = {"launch_to_first_answer_s": asker.request({"sruid": service.sruid, "kind": "first"})["answered_at"]
                   - service.launched_at}
        asker.request({"sruid": service.sruid, "kind": "sequential", "count": 3})  # warm up
        time.sleep(2)
        pids = service.tree()
        figures["idle_rss_mib"] = rss_mib(pids)
        figures["storage_emulator_rss_mib"] = service.storage_emulator_rss_mib()
        figures["processes"] = len(pids)
        figures["rss_by_process_mib"] = {_role(pid): round(rss_mib([pid]), 1) for pid in pids}
        cpu_before = cpu_seconds(service.tree())
        latencies = asker.request({"sruid": service.sruid, "kind": "sequential", "count": args.sequential})[
            "latencies"]
        cpu_after = cpu_seconds(service.tree())
        figures["cpu_per_question_ms"] = 1000 * (cpu_after - cpu_before) / args.sequential
        figures["sequential_p50_s"] = statistics.median(latencies)
        figures["sequential_p95_s"] = percentile(latencies, 0.95)
        burst = asker.request({"sruid": service.sruid, "kind": "burst", "count": args.in_flight})
        if burst["wrong"]:
            raise RuntimeError(f"{burst['wrong']} of {args.in_flight} {side} answers were wrong or errors")
        figures["in_flight_questions_per_s"] = args.in_flight / burst["seconds"]
        if side == "octue":  # see the module docstring: the emulator cannot take it
            figures["kept_in_flight_questions_per_s"] = figures["in_flight_questions_per_s"]
            return figures
        kept = asker.request({"sruid": service.sruid, "kind": "burst", "count": args.kept, "in_flight": args.in_flight})
        if kept["wrong"]:
            raise RuntimeError(f"{kept['wrong']} of {args.kept} {side} answers were wrong or errors")
        figures["kept_in_flight_questions_per_s"] = args.kept / kept["seconds"]
        return figures
    except BaseException:
        print(f"The {side} service's output (tree {service.tree()}):\n{service.output()}", file=sys.stderr, flush=True)
        raise
    finally:
        service.stop()


def table(rounds: list[dict], in_flight: int, kept: int) -> list[str]:
    """The Markdown table of medians over the kept rounds, with ratios to Octue."""
    beams = [side for side in ("octue_beam", "baseline") if side in rounds[0]]
    header = "| row | Octue 0.69.1 | " + " | ".join(f"{NAMES[side]} | {NAMES[side]} / Octue" for side in beams) + " |"
    lines = [header, "|---|---|" + "---|---|" * len(beams)]
    for key, label, unit, lower_is_better in ROWS:
        octue = statistics.median(r["octue"][key] for r in rounds)
        digits = 0 if unit in ("MiB", "questions/s") else (1 if unit == "ms" else 3)
        cells = [label.format(in_flight=in_flight, kept=kept), f"{octue:.{digits}f} {unit}"]
        for side in beams:
            beam = statistics.median(r[side][key] for r in rounds)
            ratio = beam / octue if octue else float("nan")
            verdict = "at or better" if (ratio <= 1 if lower_is_better else ratio >= 1) else "behind"
            cells += [f"{beam:.{digits}f} {unit}", f"{ratio:.2f} ({verdict})"]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    for side in beams:
        storage = statistics.median(r[side]["storage_emulator_rss_mib"] for r in rounds)
        lines.append(f"{NAMES[side]}'s RSS includes {storage:.0f} MiB of storage emulator started by `run`" if storage
                     else f"{NAMES[side]}'s RSS includes no storage emulator (`run` started none)")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="rounds, each measuring both sides (default 3)")
    parser.add_argument("--sequential", type=int, default=40, help="sequential questions per side and round")
    parser.add_argument("--in-flight", type=int, default=50, help="questions asked at once (default 50)")
    parser.add_argument("--kept", type=int, default=1000,
                        help="questions asked with --in-flight of them in flight at a time (default 1000)")
    parser.add_argument("--max-load", type=float, default=1.5,
                        help="refuse a side measured with the 1-minute load average above this (default 1.5)")
    parser.add_argument("--load-patience", type=float, default=120,
                        help="seconds to wait for the load to fall below --max-load before each side (default 120)")
    parser.add_argument("--octue-python", default=DEFAULT_OCTUE_PYTHON,
                        help=f"the interpreter with octue 0.69.1 (default $OCTUE_PYTHON or {DEFAULT_OCTUE_PYTHON})")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 1 round, 3 sequential questions, 5 in flight, no load limit")
    parser.add_argument("--json", help="also write every figure to this file")
    parser.add_argument("--baseline-source", metavar="DIR",
                        help="a third side: octue_beam from this source tree (on PYTHONPATH), e.g. the commit before "
                        "a change (git archive COMMIT | tar -x -C DIR), for before/after ratios in the same run")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.sequential, args.in_flight, args.max_load, args.load_patience = 1, 3, 5, float("inf"), 0
        args.kept = 10
    if not os.path.exists(args.octue_python):
        parser.error(f"no octue interpreter at {args.octue_python} (give --octue-python or set OCTUE_PYTHON)")

    from octue_beam.emulators.pubsub import PubSubEmulator
    from octue_beam.messaging.pubsub import ensure_topic

    emulator = PubSubEmulator().start()
    environment = {**os.environ, "PUBSUB_EMULATOR_HOST": emulator.host_port, "GOOGLE_CLOUD_PROJECT": PROJECT,
                   "PYTHONUNBUFFERED": "1"}
    # Bytecode caches as in any installed environment: pip byte-compiled Octue when it installed it, while an editable
    # octue_beam checkout under PYTHONDONTWRITEBYTECODE (set on some machines) compiled its modules at every start.
    for variable in ("STORAGE_EMULATOR_HOST", "TWINED_SERVICES_TOPIC_NAME", "PYTHONDONTWRITEBYTECODE"):
        environment.pop(variable, None)
    os.environ.update({"PUBSUB_EMULATOR_HOST": emulator.host_port, "GOOGLE_CLOUD_PROJECT": PROJECT})
    askers: dict[str, Asker] = {}
    kept, refused = [], []
    try:
        for topic in TOPICS.values():
            ensure_topic(PROJECT, topic)
        environments = {"octue": environment, "octue_beam": environment}
        if args.baseline_source:
            environments["baseline"] = {**environment, "PYTHONPATH": os.path.abspath(args.baseline_source)}
        for side, side_environment in environments.items():
            if side != "octue":  # write its bytecode caches before it is measured
                subprocess.run([sys.executable, "-c", WARM_UP_IMPORTS], env=side_environment, cwd="/tmp", check=True)
        askers = {side: Asker(side, args.octue_python if side == "octue" else sys.executable, side_environment)
                  for side, side_environment in environments.items()}
        sides = list(environments)
        for number in range(1, args.rounds + 1):
            shift = (number - 1) % len(sides)  # A/B, B/A (A/B/C, B/C/A, C/A/B with a baseline)
            order = sides[shift:] + sides[:shift]
            figures, loads = {}, {}
            for sdk in order:
                loads[sdk] = wait_for_quiet(args.max_load, args.load_patience)
                figures[sdk] = measure_side(sdk, f"r{number}-{sdk.replace('_', '-')}", askers[sdk], args,
                                            environments[sdk])
                figures[sdk]["load1_before"] = loads[sdk]
                figures[sdk]["load1_after"] = os.getloadavg()[0]
            worst = max(f["load1_before"] for f in figures.values())  # the after-load is mostly the side's own
            entry = {"round": number, "order": order, **figures}
            (kept if worst <= args.max_load else refused).append(entry)
            print(f"round {number} ({' then '.join(order)}; load1 at the start of a side up to {worst:.2f}"
                  f"{', REFUSED: above --max-load' if worst > args.max_load else ''}):", flush=True)
            for sdk in order:
                shown = {key: round(value, 4) if isinstance(value, float) else value
                         for key, value in figures[sdk].items()}
                print(f"  {sdk}: {json.dumps(shown)}", flush=True)
    finally:
        for asker in askers.values():
            asker.stop()
        emulator.stop()

    if args.json:
        Path(args.json).write_text(json.dumps({"arguments": vars(args), "kept": kept, "refused": refused}, indent=2,
                                              default=str))
    if not kept:
        print(f"No round ran with the load average at most {args.max_load} ({len(refused)} refused): nothing to "
              "report. Run again on a quieter machine, or raise --max-load knowingly.", flush=True)
        return 2
    print(f"\nMedians of {len(kept)} round(s) kept ({len(refused)} refused), {args.sequential} sequential questions "
          f"and {args.in_flight} in flight per side and round; command: python bench/vs_octue.py "
          f"{' '.join(sys.argv[1:])}")
    print("\n".join(table(kept, args.in_flight, args.kept)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
