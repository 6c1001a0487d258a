"""What the asking commands print (issue 12): the answer alone on stdout in one shape from `ask-local` and `ask`
(`run --ask` is in test_run_newcomer.py), an app's own prints on stderr, monitor messages on stderr."""

import json
import logging
import subprocess
import sys
import uuid

from octue_beam.cli import main
from octue_beam.messaging import events
from tests.asking.responder import Responder
from tests.support.service_dirs import DEFAULT_TWINE, write_service

ANSWER_KEYS = ["question_uuid", "output_values", "output_manifest"]
PROJECT = "octue-beam-test"

PRINTING_APP = """
import sys


def run(analysis):
    print("the app prints this")
    sys.stdout.write("and writes this\\n")
    analysis.send_monitor_message({"progress": 0.5})
    analysis.output_values = {"echo": analysis.input_values}
"""
PRINTING_TWINE = {**DEFAULT_TWINE, "monitor_message_schema": {"type": "object"}}


def _ask_local(folder, *arguments):
    return subprocess.run(
        [sys.executable, "-m", "octue_beam", "ask-local", str(folder), *arguments],
        capture_output=True, text=True, timeout=120,
    )


def test_ask_local_prints_the_answer_alone_on_stdout_and_the_apps_prints_on_stderr(tmp_path):
    folder = write_service(tmp_path / "printing", app=PRINTING_APP, twine=PRINTING_TWINE)
    completed = _ask_local(folder, "--input-values", '{"n": 1}')
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["output_values"] == {"echo": {"n": 1}}  # nothing else on stdout
    assert "the app prints this" in completed.stderr and "and writes this" in completed.stderr


def test_ask_local_and_ask_print_the_same_answer_shape(tmp_path, pubsub_emulator):
    question_uuid = str(uuid.uuid4())
    folder = write_service(tmp_path / "echo")
    completed = _ask_local(folder, "--input-values", '{"n": 1}', "--question-uuid", question_uuid)
    assert completed.returncode == 0, completed.stderr
    local = json.loads(completed.stdout)
    assert list(local) == ANSWER_KEYS
    assert local == {"question_uuid": question_uuid, "output_values": {"echo": {"n": 1}}, "output_manifest": None}

    def echo(event, attributes, send):
        send(events.delivery_acknowledgement())
        send(events.result(output_values={"echo": event["input_values"]}))

    with Responder(PROJECT, echo) as child:
        code, out = _main_output(["ask", child.sruid, "--input-values", '{"n": 1}', "--question-uuid", question_uuid])
    assert code == 0
    assert json.loads(out) == local


def test_ask_shows_monitor_messages_on_stderr(pubsub_emulator, caplog):
    def monitored(event, attributes, send):
        send(events.delivery_acknowledgement())
        send(events.monitor_message({"progress": 0.5}))
        send(events.result(output_values={"done": True}))

    caplog.set_level(logging.INFO)
    with Responder(PROJECT, monitored) as child:
        code, out = _main_output(["ask", child.sruid, "--input-values", "{}", "--timeout", "60"])
    assert code == 0
    assert json.loads(out)["output_values"] == {"done": True}
    assert 'Monitor message: {"progress": 0.5}' in caplog.text


def test_ask_local_shows_monitor_messages_on_stderr(tmp_path):
    folder = write_service(tmp_path / "printing", app=PRINTING_APP, twine=PRINTING_TWINE)
    completed = _ask_local(folder, "--input-values", "{}")
    assert completed.returncode == 0, completed.stderr
    assert 'Monitor message: {"progress": 0.5}' in completed.stderr


def _main_output(arguments):
    """`main(arguments)` with stdout captured at the file descriptor level (what a pipe would get)."""
    import io
    from contextlib import redirect_stdout

    out = io.StringIO()
    with redirect_stdout(out):
        code = main(arguments)
    return code, out.getvalue()
