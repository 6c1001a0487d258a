"""Benchmark of the local event recorder (`record-events`): how long an event takes from being published to being
readable in the store, and how many events a second one recorder keeps up with.

    /tmp/venv/bin/python bench/recorder.py [--window-seconds 1] [--latency-events 30] [--burst 3000]

It starts its own Pub/Sub emulator and a recorder subprocess (as `run --record-events` does), then:

1. latency: publishes `--latency-events` events one at a time, 0.3 s apart, and for each measures the time from
   its publish call returning to the moment `read_events` finds it in the store (polled every 20 ms);
2. throughput: publishes a burst of `--burst` events as fast as the publisher goes and measures the time until the
   store holds all of them (events/s recorded, from the first publish to the last row readable).

Measured on the 2-core machine (Python 3.11, apache-beam 2.77, the emulator on the same machine), window 1 s:

    start-up (launch to ready line)      ~3 s (Beam's import and the pipeline's start)
    latency, publish -> readable         median 1.1 s, max 1.6 s: the wait for the window's end, plus the 0.5 s grace
                                         and the flusher's 0.5 s tick; with the default 10 s window, ~5.5 s on
                                         average (half a window) and at most ~11 s
    throughput, 3000-event burst         ~1,900 events/s recorded (the publisher's own rate is ~2,600/s)

These figures are from one run (other helpers' tests ran on the machine at the same time); run it to see yours.
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

from google.cloud import pubsub_v1  # noqa: E402

from octue_beam.cli.record_events import RecorderProcess  # noqa: E402
from octue_beam.emulators.pubsub import PubSubEmulator  # noqa: E402
from octue_beam.events.store import read_events  # noqa: E402
from octue_beam.messaging import events  # noqa: E402
from octue_beam.messaging.attributes import question_attributes, response_attributes  # noqa: E402
from octue_beam.messaging.publishing import wire_message  # noqa: E402
from octue_beam.messaging.pubsub import ensure_topic, topic_path  # noqa: E402

PROJECT = "octue-beam-bench"
TOPIC = "bench.recorder"


def recorded_uuids(store: str, question_uuid: str) -> set[str]:
    if not os.path.isdir(store):
        return set()
    return {row["uuid"] for row in read_events(store, question_uuid=question_uuid)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--window-seconds", type=float, default=1.0)
    parser.add_argument("--latency-events", type=int, default=30)
    parser.add_argument("--burst", type=int, default=3000)
    options = parser.parse_args()

    folder = tempfile.mkdtemp(prefix="octue-beam-bench-recorder-")
    store = os.path.join(folder, "events")
    with PubSubEmulator():
        ensure_topic(PROJECT, TOPIC)
        started = time.perf_counter()
        recorder = RecorderProcess(store, project=PROJECT, topic_name=TOPIC, window_seconds=options.window_seconds)
        recorder.start()
        print(f"start-up: {time.perf_counter() - started:.1f} s to the ready line")
        publisher = pubsub_v1.PublisherClient()
        topic = topic_path(PROJECT, TOPIC)
        question = question_attributes(sender="bench/client:local", recipient="bench/service:local",
                                       sender_sdk_version="0.1.0")
        response = response_attributes(question, "0.1.0")
        try:
            latencies = []
            for _ in range(options.latency_events):
                data, attributes = wire_message(events.heartbeat(), response)
                publisher.publish(topic, data, **attributes).result()
                published = time.perf_counter()
                while attributes["uuid"] not in recorded_uuids(store, question["question_uuid"]):
                    time.sleep(0.02)
                latencies.append(time.perf_counter() - published)
                time.sleep(0.3)
            print(f"latency (window {options.window_seconds:g} s, {len(latencies)} events): median "
                  f"{statistics.median(latencies):.2f} s, min {min(latencies):.2f} s, max {max(latencies):.2f} s")

            burst = question_attributes(sender="bench/client:local", recipient="bench/service:local",
                                        sender_sdk_version="0.1.0")
            burst_response = response_attributes(burst, "0.1.0")
            messages = [wire_message(events.heartbeat(), burst_response) for _ in range(options.burst)]
            first = time.perf_counter()
            futures = [publisher.publish(topic, data, **attributes) for data, attributes in messages]
            for future in futures:
                future.result()
            published = time.perf_counter() - first
            while len(recorded_uuids(store, burst["question_uuid"])) < options.burst:
                time.sleep(1.0)  # reading the store takes CPU from the recorder: not too often
            recorded = time.perf_counter() - first
            print(f"throughput: {options.burst} events published in {published:.2f} s "
                  f"({options.burst / published:,.0f}/s), all readable after {recorded:.2f} s "
                  f"({options.burst / recorded:,.0f} events/s recorded)")
        finally:
            recorder.stop()
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
