"""octue_beam's `ask` against a real Octue 0.69 service, and a real Octue parent against octue_beam's publisher.

Skipped without the second environment holding `octue` (tests/support/octue.py); failed instead in CI.

Octue relies on Pub/Sub applying subscription filters, which the emulator does not, so octue_messaging_side.py
emulates them on the Octue side (see there). Each Octue service also gets its own services topic, for isolation.
"""

import json
import os
import subprocess
import time
import uuid

import pytest

from octue_beam.asking import ask
from octue_beam.messaging import events, pubsub
from octue_beam.processes import stop_process_group
from tests.asking.responder import Responder
from tests.support.octue import OCTUE_PYTHON, require_octue

SIDE = os.path.join(os.path.dirname(__file__), "octue_messaging_side.py")
PROJECT = "octue-beam-test"


@pytest.fixture(autouse=True)
def _octue():
    require_octue()


def _environment(emulator, topic_name=None):
    environment = {**os.environ, **emulator.environment(), "GOOGLE_CLOUD_PROJECT": PROJECT}
    if topic_name:
        environment["TWINED_SERVICES_TOPIC_NAME"] = topic_name
    return environment


@pytest.fixture
def topic_name(pubsub_emulator):
    name = f"interop.{uuid.uuid4().hex[:8]}.services"
    pubsub.ensure_topic(PROJECT, name)
    yield name
    pubsub.delete_topic(PROJECT, name)


@pytest.fixture
def octue_service(pubsub_emulator, topic_name):
    """A real Octue service serving on the emulator on its own topic (own process group, stopped after the test)."""
    sruid = f"octue-side/doubler-{uuid.uuid4().hex[:8]}:0.1.0"
    params = json.dumps({"sruid": sruid, "project": PROJECT, "timeout": 300})
    process = subprocess.Popen(
        [OCTUE_PYTHON, SIDE, "serve", params], env=_environment(pubsub_emulator, topic_name), start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not pubsub.subscription_exists(PROJECT, pubsub.service_subscription_name(sruid)):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"The Octue service did not start: {process.communicate(timeout=5)}")
            time.sleep(0.2)
        yield sruid
    finally:
        stop_process_group(process, 15, 15)
        pubsub.delete_subscription(PROJECT, pubsub.service_subscription_name(sruid))


def test_ask_an_octue_service(octue_service, topic_name, caplog):
    import logging

    recorded, monitor_messages = [], []
    with caplog.at_level(logging.INFO):
        answer, question_uuid = ask(octue_service, {"n": 21}, timeout=120, record_events=recorded,
                                    handle_monitor_message=monitor_messages.append, topic_name=topic_name)
    assert answer == {"output_values": {"doubled": 42}, "output_manifest": None}
    kinds = [e["event"]["kind"] for e in recorded]
    assert kinds[0] == "delivery_acknowledgement" and kinds[-1] == "result"
    assert "log_record" in kinds and "monitor_message" in kinds
    assert monitor_messages == [{"status": "halfway"}]
    assert f"[{octue_service} | {question_uuid}] Doubling 21." in caplog.text


def test_an_octue_service_error_is_reraised(octue_service, topic_name):
    with pytest.raises(ValueError, match="n must not fail") as raised:
        ask(octue_service, {"n": 1, "fail": True}, timeout=120, topic_name=topic_name)
    assert "run_function" in str(raised.value)  # the remote traceback


def _octue_ask(emulator, sruid, input_values):
    params = json.dumps({"sruid": sruid, "project": PROJECT, "timeout": 60, "input_values": input_values})
    result = subprocess.run([OCTUE_PYTHON, SIDE, "ask", params], env=_environment(emulator), capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_an_octue_parent_receives_octue_beam_events(pubsub_emulator):
    def answer(event, attributes, send):
        send(events.delivery_acknowledgement())
        send(events.heartbeat())
        send(events.monitor_message({"status": "halfway"}))
        send(events.result(output_values={"doubled": event["input_values"]["n"] * 2}))

    with Responder(PROJECT, answer) as child:
        report = _octue_ask(pubsub_emulator, child.sruid, {"n": 4})
    assert report.get("answer") == {"output_values": {"doubled": 8}, "output_manifest": None}, report
    assert report["events"] == ["delivery_acknowledgement", "heartbeat", "monitor_message", "result"]
    assert report["monitor_messages"] == [{"status": "halfway"}]
    [(question, attributes)] = child.questions  # Octue's real question passed octue_beam's schema
    assert attributes["sender"] == "local/local:local" and attributes["sender_type"] == "PARENT"


def test_an_octue_parent_gets_octue_beam_exceptions(pubsub_emulator):
    def fail(event, attributes, send):
        try:
            raise TypeError("not a number")
        except TypeError as error:
            send(events.exception(error))

    with Responder(PROJECT, fail) as child:
        report = _octue_ask(pubsub_emulator, child.sruid, {"n": 4})
    assert report["error_type"] == "TypeError"
    assert "not a number" in report["error"]
