"""Round-trip benchmark: a raw Beam Pub/Sub echo pipeline vs an octue_beam service, on one Pub/Sub emulator.

    python bench/roundtrip.py [--questions 5000] [--latency-samples 200] [--kept 250] [--in-flight 50]

Measures, for (a) a ReadFromPubSub -> Map -> WriteToPubSub pipeline and (b) `python -m octue_beam run` of a service
with a trivial app and a twine, both on the BundleBasedDirectRunner in a subprocess:
- p50/p95 round-trip latency of questions sent one at a time (send -> answer received);
- throughput: questions/s for a burst of N questions (first send -> last answer), and for `--kept` questions with
  `--in-flight` of them in flight at a time (the asker sends the next question as each answer arrives);
- the pipeline subprocess's RSS before and after the burst (memory growth over N questions);
- CPU per sequential question: user + system time of the pipeline's whole process tree (supervisor, pipeline
  process, emulators it started) over the sequential questions, divided by their number; and the same over the
  burst, with the cores it kept busy (near 1.0: mostly Python, bound by the pipeline process's interpreter lock).
The asking side is a raw publisher and a streaming-pull subscriber, so it is not the bottleneck.
"""

import argparse
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

REPOSITORY = Path(__file__).resolve().parents[1]
PROJECT = "octue-beam-bench"
SRUID = "octue-beam-bench/trivial:bench"
PARENT = "octue-beam-bench/asker:bench"

TRIVIAL_APP = '''
def run(analysis):
    analysis.output_values = {"echo": analysis.input_values["n"]}
'''
TRIVIAL_TWINE = {
    "input_values_schema": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]},
    "output_values_schema": {"type": "object", "properties": {"echo": {"type": "integer"}}, "required": ["echo"]},
}
TRIVIAL_YAML = "services:\n  - namespace: octue-beam-bench\n    name: trivial\n"

RAW_PIPELINE = '''
import sys
import apache_beam as beam
from apache_beam.io.gcp.pubsub import PubsubMessage, ReadFromPubSub, WriteToPubSub
from apache_beam.options.pipeline_options import PipelineOptions

subscription, topic = sys.argv[1], sys.argv[2]

def echo(message):
    attributes = dict(message.attributes)
    attributes["sender_type"] = "CHILD"
    attributes["recipient"], attributes["sender"] = attributes["sender"], attributes["recipient"]
    return PubsubMessage(data=b'{"kind": "result", "output_values": {"echo": 0}}', attributes=attributes)

options = PipelineOptions(["--runner", "BundleBasedDirectRunner", "--streaming"])
pipeline = beam.Pipeline(options=options)
(pipeline | ReadFromPubSub(subscription=subscription, with_attributes=True) | beam.Map(echo)
          | WriteToPubSub(topic, with_attributes=True))
result = pipeline.run()
print("is ready", flush=True)
result.wait_until_finish()
'''


def rss_mb(pid: int) -> float:
    """Resident memory of a process (and its children) in MB."""
    total = 0
    pids = [pid]
    try:
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        pids += [int(p) for p in children]
    except Exception:  # noqa: BLE001
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total / 1024


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            children = []
        todo += [int(child) for child in children]
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process tree, in seconds."""
    ticks = 0
    for p in descendants(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return ticks / os.sysconf("SC_CLK_TCK")


class Pipeline:
    """A pipeline subprocess in its own process group, ready once it prints 'is ready'."""

    def __init__(self, command: list[str], environment: dict) -> None:
        self.process = subprocess.Popen(
            command, cwd=REPOSITORY, env=environment, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL, text=True, start_new_session=True,
        )
        ready = threading.Event()

        def read() -> None:
            for line in self.process.stdout:
                if "is ready" in line:
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(120):
            self.stop()
            raise RuntimeError(f"{command} did not get ready")

    def stop(self) -> None:
        from octue_beam.processes import stop_process_group

        stop_process_group(self.process, 15, 15)


class Asker:
    """Publishes question messages (built like Octue's) and records when each one's answer arrives."""

    def __init__(self, project: str, question_topic: str, answer_subscription: str) -> None:
        from google.cloud import pubsub_v1

        self.publisher = pubsub_v1.PublisherClient(
            batch_settings=pubsub_v1.types.BatchSettings(max_messages=100, max_latency=0.005)
        )
        self.topic = self.publisher.topic_path(project, question_topic)
        self.subscriber = pubsub_v1.SubscriberClient()
        self.answered: dict[str, float] = {}
        self.sent: dict[str, float] = {}
        self._condition = threading.Condition()
        self._future = self.subscriber.subscribe(
            self.subscriber.subscription_path(project, answer_subscription),
            self._receive,
            flow_control=pubsub_v1.types.FlowControl(max_messages=5000),
        )

    def _receive(self, message) -> None:
        message.ack()
        attributes = message.attributes
        if attributes.get("sender_type") != "CHILD" or attributes.get("recipient") != PARENT:
            return
        if b'"result"' not in message.data and b'"exception"' not in message.data:
            return
        with self._condition:
            self.answered.setdefault(attributes["question_uuid"], time.perf_counter())
            self._condition.notify_all()

    def send(self, n: int) -> tuple[str, object]:
        from octue_beam.messaging.attributes import encode_attributes, question_attributes

        question_uuid = str(uuid.uuid4())
        attributes = encode_attributes(
            question_attributes(
                sender=PARENT,
                recipient=SRUID,
                sender_sdk_version="0.69.0",
                question_uuid=question_uuid,
                forward_logs=False,
            )
        )
        data = json.dumps({"kind": "question", "input_values": {"n": n}}).encode()
        self.sent[question_uuid] = time.perf_counter()
        return question_uuid, self.publisher.publish(self.topic, data, **attributes)

    def wait(self, question_uuids: list[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._condition:
            while not all(q in self.answered for q in question_uuids):
                if not self._condition.wait(max(0.0, deadline - time.monotonic())) and time.monotonic() > deadline:
                    missing = sum(q not in self.answered for q in question_uuids)
                    raise TimeoutError(f"{missing} of {len(question_uuids)} questions unanswered after {timeout} s")

    def latencies(self, samples: int) -> list[float]:
        result = []
        for n in range(samples):
            question_uuid, future = self.send(n)
            future.result()
            self.wait([question_uuid], 30)
            result.append(self.answered[question_uuid] - self.sent[question_uuid])
        return result

    def burst(self, count: int) -> float:
        start = time.perf_counter()
        sent = [self.send(n) for n in range(count)]
        for _, future in sent:
            future.result()
        uuids = [q for q, _ in sent]
        self.wait(uuids, 600)
        end = max(self.answered[q] for q in uuids)
        return count / (end - start)

    def kept(self, count: int, in_flight: int) -> float:
        """Questions/s of `count` questions with `in_flight` of them in flight at a time (one sent per answer)."""
        start = time.perf_counter()
        uuids: list[str] = []
        unanswered: list[str] = []  # the questions in flight (not every question sent: that check grew with each)

        def room() -> bool:
            unanswered[:] = [q for q in unanswered if q not in self.answered]
            return len(unanswered) < in_flight

        for n in range(count):
            with self._condition:
                self._condition.wait_for(room, 600)
            uuids.append(self.send(n)[0])
            unanswered.append(uuids[-1])
        self.wait(uuids, 600)
        return count / (max(self.answered[q] for q in uuids) - start)

    def close(self) -> None:
        self._future.cancel()
        self.subscriber.close()
        self.publisher.stop()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def measure(name: str, pipeline: Pipeline, asker: Asker, questions: int, samples: int, kept: tuple) -> dict:
    asker.wait([asker.send(n)[0] for n in range(20)], 60)  # warm up
    cpu_before = cpu_seconds(pipeline.process.pid)
    latencies = asker.latencies(samples)
    cpu_per_question = (cpu_seconds(pipeline.process.pid) - cpu_before) / samples
    rss_before = rss_mb(pipeline.process.pid)
    cpu_before = cpu_seconds(pipeline.process.pid)
    rate = asker.burst(questions)
    burst_cpu = cpu_seconds(pipeline.process.pid) - cpu_before
    time.sleep(1)
    rss_after = rss_mb(pipeline.process.pid)
    kept_rate = asker.kept(*kept) if kept[0] else None
    figures = {
        "name": name,
        "p50_ms": 1000 * statistics.median(latencies),
        "p95_ms": 1000 * percentile(latencies, 0.95),
        "cpu_ms_per_question": 1000 * cpu_per_question,
        "questions_per_s": rate,
        "burst_cpu_ms_per_question": 1000 * burst_cpu / questions,
        "burst_cpu_cores": burst_cpu * rate / questions,  # CPU seconds per second of the burst
        "rss_before_mb": rss_before,
        "rss_after_mb": rss_after,
        "rss_growth_mb": rss_after - rss_before,
        "kept_questions_per_s": kept_rate,
    }
    print(
        f"{name}: p50 {figures['p50_ms']:.0f} ms, p95 {figures['p95_ms']:.0f} ms, "
        f"CPU {figures['cpu_ms_per_question']:.1f} ms per sequential question, {rate:.0f} questions/s over "
        f"{questions} ({figures['burst_cpu_ms_per_question']:.1f} ms CPU each, {figures['burst_cpu_cores']:.2f} cores"
        "), "
        f"RSS {rss_before:.0f} -> {rss_after:.0f} MB"
        + (f"; {kept[0]} questions {kept[1]} at a time: {kept_rate:.0f} questions/s" if kept[0] else ""),
        flush=True,
    )
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=5000, help="questions in the throughput burst (default 5000)")
    parser.add_argument(
        "--latency-samples", type=int, default=200, help="sequential questions for latency (default 200)"
    )
    parser.add_argument("--only", choices=["raw", "service"], help="run only one side")
    parser.add_argument("--kept", type=int, default=250,
                        help="then this many questions with --in-flight in flight at a time (default 250; 0: skip)")
    parser.add_argument("--in-flight", type=int, default=50, help="questions in flight for --kept (default 50)")
    args = parser.parse_args()

    from octue_beam.emulators.pubsub import PubSubEmulator
    from octue_beam.messaging.pubsub import ensure_subscription, ensure_topic

    emulator = PubSubEmulator().start()
    results = {}
    try:
        environment = {**os.environ, "PUBSUB_EMULATOR_HOST": emulator.host_port, "GOOGLE_CLOUD_PROJECT": PROJECT,
                       "PYTHONUNBUFFERED": "1"}
        environment.pop("STORAGE_EMULATOR_HOST", None)

        if args.only in (None, "raw"):
            ensure_topic(PROJECT, "raw.questions")
            ensure_topic(PROJECT, "raw.answers")
            ensure_subscription(PROJECT, "raw.questions.reader", "raw.questions")
            ensure_subscription(PROJECT, "raw.answers.reader", "raw.answers")
            with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as script:
                script.write(RAW_PIPELINE)
            raw = Pipeline(
                [sys.executable, script.name, f"projects/{PROJECT}/subscriptions/raw.questions.reader",
                 f"projects/{PROJECT}/topics/raw.answers"],
                environment,
            )
            asker = Asker(PROJECT, "raw.questions", "raw.answers.reader")
            try:
                results["raw"] = measure("(a) raw Beam echo pipeline", raw, asker, args.questions, args.latency_samples,
                                         (args.kept, args.in_flight))
            finally:
                asker.close()
                raw.stop()
                os.unlink(script.name)

        if args.only in (None, "service"):
            topic = "bench.services"
            environment["TWINED_SERVICES_TOPIC_NAME"] = topic
            service_dir = Path(tempfile.mkdtemp(prefix="octue-beam-bench-"))
            (service_dir / "app.py").write_text(TRIVIAL_APP)
            (service_dir / "twine.json").write_text(json.dumps(TRIVIAL_TWINE))
            (service_dir / "octue.yaml").write_text(TRIVIAL_YAML)
            ensure_topic(PROJECT, topic)
            ensure_subscription(PROJECT, "bench.answers.reader", topic, enable_message_ordering=False)
            service = Pipeline(
                [
                    sys.executable, "-m", "octue_beam", "--log-level", "WARNING", "run", str(service_dir),
                    "--runner", "DirectRunner", "--revision_tag", "bench",
                    *os.environ.get("BENCH_SERVICE_ARGS", "").split(),
                ],
                environment,
            )
            asker = Asker(PROJECT, topic, "bench.answers.reader")
            try:
                results["service"] = measure(
                    "(b) octue_beam service", service, asker, args.questions, args.latency_samples,
                    (args.kept, args.in_flight),
                )
            finally:
                asker.close()
                service.stop()
    finally:
        emulator.stop()

    if "raw" in results and "service" in results:
        raw, service = results["raw"], results["service"]
        print(
            f"ratios: throughput (b)/(a) = {service['questions_per_s'] / raw['questions_per_s']:.2f} (goal >= 0.90); "
            + (f"{args.in_flight} in flight (b)/(a) = "
               f"{service['kept_questions_per_s'] / raw['kept_questions_per_s']:.2f}; " if args.kept else "")
            + f"p50 (b)/(a) = {service['p50_ms'] / raw['p50_ms']:.2f} (goal <= 1.00); "
            f"service RSS growth over {args.questions} questions = {service['rss_growth_mb']:.1f} MB (goal < 50)"
        )
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
