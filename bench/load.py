"""Load benchmark: N questions from M parent processes, in bursts, on ONE Pub/Sub emulator (run by hand).

    python bench/load.py [--questions 5000] [--parents 4] [--bursts 3] [--in-flight 250] [--skip-raw]

Starts one Pub/Sub emulator and `python -m octue_beam run bench/trivial_service` on it, then `--bursts` times in a
row: `--parents` parent processes each ask `questions / parents` questions with `octue_beam.ask_multiple` (at most
`--in-flight` in flight per parent), all at once. An observer subscription on the services topic sees every message,
so for each burst the benchmark reports:

- throughput: questions / (first question sent -> last answer seen);
- latency p50 / p95 / p99: a question's publication to its final event, as the observer saw them;
- lost (no final event), duplicated (more than one final event with different event UUIDs: a parent would see two
  answers), redelivered (the same event delivered twice: harmless, parents drop it by its UUID), wrong (an answer
  not equal to the echo of its input), and the exceptions the parents got, by type;
- the service's and the emulator's RSS and thread counts before, at the peak and after the burst.

Then, unless `--skip-raw`, the same number of questions from one raw asker to a raw Beam echo pipeline
(`bench/roundtrip.py`'s ReadFromPubSub -> Map -> WriteToPubSub) on the same emulator: the ratio of the service's
throughput to that is the figure to compare across machines. Goals (issue 11): 0 lost, 0 duplicated, service memory
growth under 50 MB over the bursts, emulator threads bounded, throughput steady across bursts.
"""

import argparse
import collections
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from google.cloud import pubsub_v1

from octue_beam.emulators.pubsub import PubSubEmulator
from octue_beam.messaging.pubsub import ensure_subscription, ensure_topic

BENCH = Path(__file__).resolve().parent
REPOSITORY = BENCH.parent
SERVICE_DIR = BENCH / "trivial_service"
PROJECT = "octue-beam-bench"
TOPIC = "bench.load.services"
SRUID = "octue-beam-bench/trivial:bench"

sys.path.insert(0, str(BENCH))
import roundtrip  # noqa: E402 - the raw echo pipeline and its asker live beside this file

PARENT = """
import collections, json, sys, time
from octue_beam import ask_multiple

sruid, first, count, in_flight, timeout = sys.argv[1], *map(int, sys.argv[2:5]), float(sys.argv[5])
print("ready", flush=True)
sys.stdin.readline()  # start together
started = time.time()
answers = ask_multiple(
    [{"service_id": sruid, "input_values": {"n": n}, "timeout": timeout, "subscribe_to_logs": False}
     for n in range(first, first + count)],
    max_workers=in_flight, raise_errors=False, log_errors=False,
)
errors, wrong = collections.Counter(), 0
for n, (answer, _) in zip(range(first, first + count), answers):
    if isinstance(answer, BaseException):
        errors[type(answer).__name__] += 1
    elif answer["output_values"] != {"echo": n}:
        wrong += 1
print(json.dumps({"started": started, "ended": time.time(), "errors": errors, "wrong": wrong,
                  "uuids": [question_uuid for _, question_uuid in answers]}), flush=True)
"""


class Observer:
    """Every message on the services topic: when each question was published and each final event arrived."""

    def __init__(self) -> None:
        name = f"bench.load.observer.{uuid.uuid4().hex[:6]}"
        ensure_subscription(PROJECT, name, TOPIC, enable_message_ordering=False)
        self.asked: dict[str, float] = {}
        self.finals: dict[str, list[tuple[str, str, float]]] = collections.defaultdict(list)
        self._lock = threading.Lock()
        self._subscriber = pubsub_v1.SubscriberClient()
        self._future = self._subscriber.subscribe(
            self._subscriber.subscription_path(PROJECT, name),
            self._receive,
            flow_control=pubsub_v1.types.FlowControl(max_messages=10_000),
        )

    def _receive(self, message: pubsub_v1.subscriber.message.Message) -> None:
        message.ack()
        now = time.time()
        attributes = message.attributes
        question_uuid = attributes.get("question_uuid", "")
        try:
            kind = json.loads(message.data).get("kind")
        except (ValueError, AttributeError):
            return
        with self._lock:
            if kind == "question":
                self.asked.setdefault(question_uuid, now)
            elif kind in ("result", "exception"):
                self.finals[question_uuid].append((attributes.get("uuid", ""), kind, now))

    def close(self) -> None:
        self._future.cancel()
        self._subscriber.close()


def process_tree(root: int) -> list[int]:
    """`root` and its descendants."""
    children = collections.defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children[parent].append(int(entry.name))
    pids, stack = [], [root]
    while stack:
        pid = stack.pop()
        pids.append(pid)
        stack.extend(children[pid])
    return pids


def memory_and_threads(pids: list[int]) -> tuple[float, int]:
    """Total RSS (MiB) and threads of these processes."""
    rss, threads = 0, 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss += int(line.split()[1])
                elif line.startswith("Threads:"):
                    threads += int(line.split()[1])
        except OSError:
            continue
    return rss / 1024, threads


class Sampler:
    """RSS and threads of the service (its process tree) and of the emulator, once a second."""

    def __init__(self, service_pid: int, emulator_pid: int) -> None:
        self.targets = {"service": service_pid, "emulator": emulator_pid}
        self.samples: list[dict] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def now(self) -> dict:
        sample = {"time": time.time()}
        for name, pid in self.targets.items():
            sample[f"{name}_rss_mb"], sample[f"{name}_threads"] = memory_and_threads(process_tree(pid))
        return sample

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            self.samples.append(self.now())

    def between(self, start: float, end: float) -> list[dict]:
        return [sample for sample in self.samples if start <= sample["time"] <= end]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def start_parents(environment: dict, questions: int, parents: int, in_flight: int, timeout: float) -> list:
    share, processes = questions // parents, []
    for index in range(parents):
        command = [sys.executable, "-c", PARENT, SRUID, str(index * share), str(share), str(in_flight), str(timeout)]
        process = subprocess.Popen(
            command, env=environment, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True, start_new_session=True,
        )
        processes.append(process)
    for process in processes:
        if process.stdout.readline().strip() != "ready":
            raise RuntimeError("a parent process did not start")
    return processes


def burst(number: int, args: argparse.Namespace, environment: dict, observer: Observer, sampler: Sampler) -> dict:
    """One burst from all the parents at once; its figures."""
    parents = start_parents(environment, args.questions, args.parents, args.in_flight, args.timeout)
    before = sampler.now()
    for process in parents:
        process.stdin.write("go\n")
        process.stdin.flush()
    reports = [json.loads(process.stdout.readline()) for process in parents]
    for process in parents:
        process.wait(timeout=60)
    time.sleep(2)  # let late duplicates arrive
    after = sampler.now()
    uuids = [question_uuid for report in reports for question_uuid in report["uuids"]]
    errors = sum((collections.Counter(report["errors"]) for report in reports), collections.Counter())
    with observer._lock:
        finals = {question_uuid: list(observer.finals.get(question_uuid, [])) for question_uuid in uuids}
        asked = {question_uuid: observer.asked.get(question_uuid) for question_uuid in uuids}
    latencies = [
        min(time for _, _, time in events) - asked[question_uuid]
        for question_uuid, events in finals.items()
        if events and asked[question_uuid] is not None
    ] or [float("nan")]  # nothing answered: no latency
    started = min(report["started"] for report in reports)
    last_answer = max((min(time for _, _, time in events) for events in finals.values() if events), default=started)
    peak = sampler.between(before["time"], after["time"]) or [after]
    figures = {
        "burst": number,
        "questions": len(uuids),
        "questions_per_s": len(uuids) / max(last_answer - started, 1e-9),
        "p50_ms": 1000 * roundtrip.percentile(latencies, 0.5),
        "p95_ms": 1000 * roundtrip.percentile(latencies, 0.95),
        "p99_ms": 1000 * roundtrip.percentile(latencies, 0.99),
        "lost": sum(1 for events in finals.values() if not events),
        "duplicated": sum(1 for events in finals.values() if len({event_uuid for event_uuid, _, _ in events}) > 1),
        "redelivered": sum(len(events) - len({e for e, _, _ in events}) for events in finals.values()),
        "wrong": sum(report["wrong"] for report in reports),
        "exceptions": dict(errors),
    }
    for name in ("service", "emulator"):
        figures[f"{name}_rss_mb"] = [round(before[f"{name}_rss_mb"]), round(max(s[f"{name}_rss_mb"] for s in peak)),
                                     round(after[f"{name}_rss_mb"])]
        figures[f"{name}_threads"] = [before[f"{name}_threads"], max(s[f"{name}_threads"] for s in peak),
                                      after[f"{name}_threads"]]
    print(
        f"burst {number}: {figures['questions_per_s']:.0f} questions/s, p50 {figures['p50_ms']:.0f} ms, "
        f"p95 {figures['p95_ms']:.0f} ms, p99 {figures['p99_ms']:.0f} ms; lost {figures['lost']}, duplicated "
        f"{figures['duplicated']}, redelivered {figures['redelivered']}, wrong {figures['wrong']}, exceptions "
        f"{figures['exceptions'] or 0}; service RSS {figures['service_rss_mb']} MiB, threads "
        f"{figures['service_threads']}; emulator RSS {figures['emulator_rss_mb']} MiB, threads "
        f"{figures['emulator_threads']} (before, peak, after)",
        flush=True,
    )
    return figures


def raw_echo(questions: int, environment: dict) -> float:
    """Questions/s of a raw Beam echo pipeline on the same emulator, asked by one raw asker."""
    ensure_topic(PROJECT, "raw.questions")
    ensure_topic(PROJECT, "raw.answers")
    ensure_subscription(PROJECT, "raw.questions.reader", "raw.questions")
    ensure_subscription(PROJECT, "raw.answers.reader", "raw.answers")
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as script:
        script.write(roundtrip.RAW_PIPELINE)
    pipeline = roundtrip.Pipeline(
        [sys.executable, script.name, f"projects/{PROJECT}/subscriptions/raw.questions.reader",
         f"projects/{PROJECT}/topics/raw.answers"],
        environment,
    )
    asker = roundtrip.Asker(PROJECT, "raw.questions", "raw.answers.reader")
    try:
        asker.wait([asker.send(n)[0] for n in range(20)], 60)
        return asker.burst(questions)
    finally:
        asker.close()
        pipeline.stop()
        os.unlink(script.name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=5000, help="questions per burst, all parents (default 5000)")
    parser.add_argument("--parents", type=int, default=4, help="parent processes (default 4)")
    parser.add_argument("--bursts", type=int, default=3, help="bursts in a row on one emulator (default 3)")
    parser.add_argument("--in-flight", type=int, default=250, help="questions in flight per parent (default 250)")
    parser.add_argument("--timeout", type=float, default=600, help="each question's timeout, seconds (default 600)")
    parser.add_argument("--skip-raw", action="store_true", help="skip the raw Beam echo pipeline")
    parser.add_argument("--service-args", default="", help="extra options for the service's `run` command")
    args = parser.parse_args()

    emulator = PubSubEmulator().start()
    environment = {
        **os.environ, "PUBSUB_EMULATOR_HOST": emulator.host_port, "GOOGLE_CLOUD_PROJECT": PROJECT,
        "TWINED_SERVICES_TOPIC_NAME": TOPIC, "PYTHONUNBUFFERED": "1",
    }
    environment.pop("STORAGE_EMULATOR_HOST", None)
    os.environ.update({key: environment[key] for key in ("PUBSUB_EMULATOR_HOST", "GOOGLE_CLOUD_PROJECT")})
    figures: dict = {"arguments": vars(args), "load_average_before": os.getloadavg()[0], "bursts": []}
    service = observer = sampler = None
    try:
        ensure_topic(PROJECT, TOPIC)
        observer = Observer()
        service = roundtrip.Pipeline(
            [sys.executable, "-m", "octue_beam", "--log-level", "WARNING", "run", str(SERVICE_DIR), "--runner",
             "DirectRunner", "--revision_tag", "bench", *args.service_args.split()],
            environment,
        )
        sampler = Sampler(service.process.pid, emulator._process.pid)
        print(f"service and emulator ready; {args.bursts} bursts of {args.questions} questions from "
              f"{args.parents} parents, {args.in_flight} in flight each", flush=True)
        for number in range(1, args.bursts + 1):
            figures["bursts"].append(burst(number, args, environment, observer, sampler))
        if not args.skip_raw:
            figures["raw_echo_questions_per_s"] = rate = raw_echo(args.questions, environment)
            print(f"raw Beam echo pipeline on the same emulator: {rate:.0f} questions/s", flush=True)
    finally:
        if sampler is not None:
            sampler.stop()
        if observer is not None:
            observer.close()
        if service is not None:
            service.stop()
        emulator.stop()

    rates = [entry["questions_per_s"] for entry in figures["bursts"]]
    if rates:
        lost = sum(entry["lost"] for entry in figures["bursts"])
        duplicated = sum(entry["duplicated"] for entry in figures["bursts"])
        median = statistics.median(rates)
        summary = (f"summary: lost {lost}, duplicated {duplicated}; last burst / first = {rates[-1] / rates[0]:.2f}; "
                   f"median {median:.0f} questions/s")
        if "raw_echo_questions_per_s" in figures:
            summary += f" = {median / figures['raw_echo_questions_per_s']:.2f} of the raw echo pipeline"
        growth = figures["bursts"][-1]["service_rss_mb"][2] - figures["bursts"][0]["service_rss_mb"][0]
        summary += f"; service RSS growth {growth} MiB"
        print(summary, flush=True)
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
