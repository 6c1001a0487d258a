"""ask_multiple benchmark: questions/s from one parent to one running service, 50 and 500 questions in flight.

    python bench/ask_multiple.py [--rounds 3] [--sustained 1000] [--skip-raw] [--trend-sustained N]

First measures the asking side alone: `ask_multiple` to a minimal child made of the bare Google clients, which
answers at once (50, 500 and 2000 at once). Then starts `python -m octue_beam run bench/trivial_service --runner
DirectRunner` on the same emulator and measures with `octue_beam.ask_multiple` (logs forwarded, as by default):
- burst: N questions asked at once (N = 50, 500), first send -> last answer, `--rounds` times each;
- sustained: `--sustained` questions with at most N in flight (`max_workers=N`), each run on a fresh emulator and
  service, 500 and 50 in flight alternated `--rounds` times (goal: 500 within 10% of 50);
- with `--trend-sustained N`: N sustained runs in a row on one emulator and service (a service that slows down
  with the questions it has answered shows here: goal, the last run within 10% of the first).
For comparison (where the time goes) it also measures the same bursts with a raw publisher and a raw streaming-pull
subscriber (no octue_beam asking code): if both give the same rate, the service pipeline is the bottleneck.
Each phase runs on a fresh emulator: the emulator slows down as it handles thousands of ordering keys (see --trend,
and --unordered to compare with answer subscriptions without message ordering).
Octue 0.69.1's `Child.ask_multiple` managed ~16 questions/s with 50 in flight on these machines (goal: >= 80).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
SERVICE_DIR = REPOSITORY / "bench" / "trivial_service"
PROJECT = "octue-beam-bench"
TOPIC = "bench.services"
SRUID = "octue-beam-bench/trivial:bench"
ECHO_SRUID = "octue-beam-bench/echo:bench"

# A minimal child made of the bare Google clients: acknowledges and answers each question at once (batched publishing).
ECHO_RESPONDER = """
import json, sys, threading
from google.cloud import pubsub_v1
from octue_beam.messaging.attributes import encode_attributes, refreshed, response_attributes
from octue_beam.messaging.parsing import decode_message_attributes
from octue_beam.messaging.pubsub import ensure_subscription, service_subscription_name

project, topic, sruid = sys.argv[1:4]
subscription = ensure_subscription(project, service_subscription_name(sruid), topic, enable_message_ordering=False)
publisher = pubsub_v1.PublisherClient(batch_settings=pubsub_v1.types.BatchSettings(max_messages=200, max_latency=0.005))
topic_path = publisher.topic_path(project, topic)
ACK = json.dumps({"kind": "delivery_acknowledgement"}).encode()

def answer(message):
    message.ack()
    attributes = message.attributes
    if attributes.get("recipient") != sruid or attributes.get("sender_type") != "PARENT":
        return
    base = response_attributes(decode_message_attributes(dict(attributes)), "0.1.0")
    n = json.loads(message.data)["input_values"]["n"]
    publisher.publish(topic_path, ACK, **encode_attributes(refreshed(base)))
    result = json.dumps({"kind": "result", "output_values": {"echo": n}}).encode()
    publisher.publish(topic_path, result, **encode_attributes(refreshed(base)))

subscriber = pubsub_v1.SubscriberClient()
future = subscriber.subscribe(subscription, answer, flow_control=pubsub_v1.types.FlowControl(max_messages=5000))
print("is ready", flush=True)
future.result()
"""


def start_service(environment: dict, command: list[str] | None = None) -> subprocess.Popen:
    command = command or [
        sys.executable, "-m", "octue_beam", "--log-level", "WARNING", "run", str(SERVICE_DIR),
        "--runner", "DirectRunner", "--revision_tag", "bench",
    ]
    process = subprocess.Popen(
        command,
        cwd=REPOSITORY, env=environment, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
        text=True, start_new_session=True,
    )
    ready = threading.Event()

    def read() -> None:
        for line in process.stdout:
            if "is ready" in line:
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(180):
        stop(process)
        raise RuntimeError("the service did not get ready in 180 s")
    return process


def stop(process: subprocess.Popen) -> None:
    from octue_beam.processes import stop_process_group

    stop_process_group(process, 20, 20)


def process_tree_cpu(root: int) -> float:
    """CPU seconds (user + system) used so far by a process and its descendants."""
    parents, cpu = {}, {}
    ticks = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        parents[int(entry.name)] = int(fields[1])
        cpu[int(entry.name)] = (int(fields[11]) + int(fields[12])) / ticks
    total, stack = 0.0, [root]
    while stack:
        pid = stack.pop()
        total += cpu.get(pid, 0.0)
        stack.extend(child for child, parent in parents.items() if parent == pid)
    return total


class CpuMeter:
    """CPU seconds used by the asker (this process), the service and the emulator during a measurement."""

    def __init__(self, service_pid: int, emulator_pid: int) -> None:
        self.pids = {"service": service_pid, "emulator": emulator_pid}

    def snapshot(self) -> dict:
        times = os.times()
        return {"asker": times.user + times.system, **{k: process_tree_cpu(v) for k, v in self.pids.items()}}

    def measure(self, function, *args):
        before, start = self.snapshot(), time.perf_counter()
        result = function(*args)
        after, elapsed = self.snapshot(), time.perf_counter() - start
        shares = {k: (after[k] - before[k]) / elapsed for k in after}
        return result, shares


def event_kinds(count: int) -> dict:
    """How many events of each kind the service sends per question."""
    from collections import Counter

    from octue_beam import ask_multiple

    recorded: list = []
    ask_multiple([{"service_id": SRUID, "input_values": {"n": n}, "record_events": recorded} for n in range(count)])
    kinds = Counter(event["event"]["kind"] for event in recorded)
    return {kind: number / count for kind, number in sorted(kinds.items())}


def burst(count: int, sruid: str = SRUID) -> float:
    from octue_beam import ask_multiple

    start = time.perf_counter()
    answers = ask_multiple([{"service_id": sruid, "input_values": {"n": n}, "timeout": 600} for n in range(count)])
    elapsed = time.perf_counter() - start
    assert [answer["output_values"]["echo"] for answer, _ in answers] == list(range(count))
    return count / elapsed


def sustained(count: int, in_flight: int) -> float:
    from octue_beam import ask_multiple

    start = time.perf_counter()
    answers = ask_multiple(
        [{"service_id": SRUID, "input_values": {"n": n}, "timeout": 600} for n in range(count)], max_workers=in_flight
    )
    elapsed = time.perf_counter() - start
    assert len(answers) == count
    return count / elapsed


class RawAsker:
    """Questions published and answers pulled with the bare Google clients (no octue_beam asking code)."""

    def __init__(self) -> None:
        from google.cloud import pubsub_v1

        from octue_beam.messaging.pubsub import ensure_subscription

        self.parent = f"octue-beam-bench/raw-asker-{uuid.uuid4().hex[:6]}:bench"
        subscription = f"bench.raw-answers.{uuid.uuid4().hex[:6]}"
        ensure_subscription(PROJECT, subscription, TOPIC, enable_message_ordering=False)
        self.publisher = pubsub_v1.PublisherClient(batch_settings=pubsub_v1.types.BatchSettings(max_messages=100,
                                                                                              max_latency=0.005))
        self.topic = self.publisher.topic_path(PROJECT, TOPIC)
        self.subscriber = pubsub_v1.SubscriberClient()
        self.answered: dict[str, float] = {}
        self.condition = threading.Condition()
        self.future = self.subscriber.subscribe(
            self.subscriber.subscription_path(PROJECT, subscription), self._receive,
            flow_control=pubsub_v1.types.FlowControl(max_messages=5000),
        )

    def _receive(self, message) -> None:
        message.ack()
        if message.attributes.get("recipient") != self.parent or b'"result"' not in message.data:
            return
        with self.condition:
            self.answered[message.attributes["question_uuid"]] = time.perf_counter()
            self.condition.notify_all()

    def burst(self, count: int) -> float:
        from octue_beam.messaging.attributes import encode_attributes, question_attributes

        start = time.perf_counter()
        uuids, futures = [], []
        for n in range(count):
            question_uuid = str(uuid.uuid4())
            attributes = encode_attributes(question_attributes(
                sender=self.parent, recipient=SRUID, sender_sdk_version="0.1.0", question_uuid=question_uuid))
            data = json.dumps({"kind": "question", "input_values": {"n": n}}).encode()
            futures.append(self.publisher.publish(self.topic, data, **attributes))
            uuids.append(question_uuid)
        for future in futures:
            future.result()
        with self.condition:
            self.condition.wait_for(lambda: all(q in self.answered for q in uuids), timeout=600)
        return count / (max(self.answered[q] for q in uuids) - start)

    def close(self) -> None:
        self.future.cancel()
        try:
            self.future.result(timeout=10)
        except BaseException:  # noqa: BLE001 - cancelled
            pass
        self.subscriber.close()
        self.publisher.stop()


def measure_bursts(label: str, meter: "CpuMeter", sizes: tuple, rounds: int, figures: dict, key: str,
                   sruid: str = SRUID) -> None:
    for size in sizes:
        rates, shares = [], []
        for _ in range(rounds):
            rate, share = meter.measure(burst, size, sruid)
            rates.append(rate)
            shares.append(share)
        cores = {k: statistics.median(s[k] for s in shares) for k in shares[0]}
        median = statistics.median(rates)
        figures[f"{key}_{size}"] = {"median_q_per_s": median, "rates": rates, "cpu_cores": cores}
        print(f"{label}, {size} at once: {median:.0f} questions/s (rounds: {', '.join(f'{r:.0f}' for r in rates)}); "
              "CPU cores busy: " + ", ".join(f"{k} {v:.2f}" for k, v in cores.items())
              + f"; asker CPU per question {1000 * cores['asker'] / median:.1f} ms", flush=True)


class Phase:
    """A fresh Pub/Sub emulator (and services topic) for one phase, so earlier phases do not slow it down."""

    def __enter__(self) -> dict:
        from octue_beam.emulators.pubsub import PubSubEmulator
        from octue_beam.messaging.pubsub import ensure_topic

        self.emulator = PubSubEmulator().start()
        os.environ.update({"PUBSUB_EMULATOR_HOST": self.emulator.host_port, "GOOGLE_CLOUD_PROJECT": PROJECT,
                           "TWINED_SERVICES_TOPIC_NAME": TOPIC})
        ensure_topic(PROJECT, TOPIC)
        self.environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.environment.pop("STORAGE_EMULATOR_HOST", None)
        self.processes: list[subprocess.Popen] = []
        return self

    def start(self, command: list[str] | None = None) -> subprocess.Popen:
        process = start_service(self.environment, command)
        self.processes.append(process)
        return process

    def meter(self, process: subprocess.Popen) -> "CpuMeter":
        return CpuMeter(process.pid, self.emulator._process.pid)

    def __exit__(self, *exc_info: object) -> None:
        from octue_beam.asking.session import close_listeners

        for process in self.processes:
            stop(process)
        close_listeners()
        self.emulator.stop()


def unordered_answer_subscriptions() -> None:
    """Experiment only: answer subscriptions without message ordering (octue_beam keeps it on, for event order)."""
    from octue_beam.messaging import pubsub

    original = pubsub.ensure_subscription

    def ensure(*args, **kwargs):
        if ".answers." in args[1]:
            kwargs["enable_message_ordering"] = False
        return original(*args, **kwargs)

    pubsub.ensure_subscription = ensure


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="bursts per size (default 3)")
    parser.add_argument("--sustained", type=int, default=1000, help="questions in each sustained run (default 1000)")
    parser.add_argument("--skip-raw", action="store_true", help="skip the raw-client comparison")
    parser.add_argument("--skip-echo", action="store_true", help="skip the bare-client echo child (asking capacity)")
    parser.add_argument("--trend", type=int, default=0, metavar="N",
                        help="also ask N bursts of 500 in a row on one emulator and print each rate (default 0)")
    parser.add_argument("--trend-sustained", type=int, default=0, metavar="N",
                        help="also run N sustained runs (200 in flight) in a row on one emulator and service and print "
                             "each rate and the service's CPU per question (default 0)")
    parser.add_argument("--unordered", action="store_true",
                        help="experiment: answer subscriptions without message ordering (for --trend comparisons)")
    args = parser.parse_args()
    if args.unordered:
        unordered_answer_subscriptions()
    figures: dict = {}

    if not args.skip_echo:
        with Phase() as phase:
            echo = phase.start([sys.executable, "-c", ECHO_RESPONDER, PROJECT, TOPIC, ECHO_SRUID])
            burst(20, ECHO_SRUID)
            measure_bursts("ask_multiple to a bare-client echo child", phase.meter(echo), (50, 500, 2000), args.rounds,
                           figures, "echo_burst", ECHO_SRUID)

    with Phase() as phase:
        service = phase.start()
        burst(20)  # warm up: the answer subscription, the service's worker
        figures["events_per_question"] = event_kinds(50)
        print(f"events per question: {figures['events_per_question']}", flush=True)
        measure_bursts("ask_multiple to the service", phase.meter(service), (50, 500), args.rounds, figures, "burst")

    # Each sustained run on a fresh emulator and service, 500 and 50 in flight alternated: a later run on the same
    # emulator would be measured against a different emulator (see --trend-sustained).
    rates: dict = {50: [], 500: []}
    shares: dict = {50: [], 500: []}
    for _ in range(args.rounds):
        for in_flight in (500, 50):
            with Phase() as phase:
                meter = phase.meter(phase.start())
                burst(20)
                rate, busy = meter.measure(sustained, args.sustained, in_flight)
                rates[in_flight].append(rate)
                shares[in_flight].append(busy)
    for in_flight, measured in rates.items():
        cores = {k: statistics.median(s[k] for s in shares[in_flight]) for k in shares[in_flight][0]}
        figures[f"sustained_{in_flight}_in_flight"] = {"median_q_per_s": statistics.median(measured), "rates": measured,
                                                       "cpu_cores": cores}
        print(f"ask_multiple to the service, {args.sustained} questions with {in_flight} in flight: "
              f"{statistics.median(measured):.0f} questions/s (runs: {', '.join(f'{r:.0f}' for r in measured)}); "
              "CPU cores busy: " + ", ".join(f"{k} {v:.2f}" for k, v in cores.items()), flush=True)
    ratio = statistics.median(rates[500]) / statistics.median(rates[50])
    print(f"sustained, 500 in flight / 50 in flight: {ratio:.2f}", flush=True)

    if not args.skip_raw:
        with Phase() as phase:
            phase.start()
            raw = RawAsker()
            try:
                raw.burst(20)
                for size in (50, 500):
                    rates = [raw.burst(size) for _ in range(args.rounds)]
                    figures[f"raw_burst_{size}"] = {"median_q_per_s": statistics.median(rates), "rates": rates}
                    print(f"bare clients to the service, {size} at once: {statistics.median(rates):.0f} questions/s "
                          f"(rounds: {', '.join(f'{r:.0f}' for r in rates)})", flush=True)
            finally:
                raw.close()

    if args.trend_sustained:
        with Phase() as phase:
            meter = phase.meter(phase.start())
            burst(20)
            trend = []
            for run in range(1, args.trend_sustained + 1):
                rate, cores = meter.measure(sustained, args.sustained, 200)
                trend.append({"q_per_s": rate, "service_ms_per_question": 1000 * cores["service"] / rate})
                print(f"trend: sustained run #{run} ({args.sustained} questions, 200 in flight): {rate:.0f} "
                      f"questions/s, service CPU {trend[-1]['service_ms_per_question']:.1f} ms per question",
                      flush=True)
            figures["trend_sustained"] = trend
            print(f"trend: last run / first run: {trend[-1]['q_per_s'] / trend[0]['q_per_s']:.2f}", flush=True)

    if args.trend:
        with Phase() as phase:
            phase.start()
            burst(20)
            rates = []
            for _ in range(args.trend):
                rates.append(burst(500))
                print(f"trend: burst of 500 #{len(rates)}: {rates[-1]:.0f} questions/s", flush=True)
            figures["trend_500"] = rates

    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
