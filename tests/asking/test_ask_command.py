import json
import uuid

import pytest

from octue_beam.cli import main
from octue_beam.messaging import events
from tests.asking.responder import Responder
from tests.support.subscriptions import subscribed_but_not_reading

PROJECT = "octue-beam-test"


@pytest.fixture(autouse=True)
def emulator(pubsub_emulator):
    return pubsub_emulator


def double(event, attributes, send):
    send(events.delivery_acknowledgement())
    send(events.result(output_values={"doubled": event["input_values"]["n"] * 2}))


def fail(event, attributes, send):
    send({"kind": "exception", "exception_type": "ValueError", "exception_message": "n must be odd",
          "exception_traceback": ['  File "app.py", line 3, in run\n    raise ValueError()\n']})


def test_ask_prints_the_answer_as_json(capsys, tmp_path):
    values = tmp_path / "values.json"
    values.write_text('{"n": 4}')
    with Responder(PROJECT, double) as child:
        code = main(["ask", child.sruid, "--input-values", str(values), "--timeout", "60"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    output = json.loads(captured.out)
    assert output["output_values"] == {"doubled": 8}
    assert output["output_manifest"] is None
    uuid.UUID(output["question_uuid"])


def test_ask_asynchronous_prints_the_question_uuid(capsys):
    code = main(["ask", "test-org/anyone:1.0.0", "--input-values", '{"n": 1}', "--asynchronous"])
    assert code == 0
    assert list(json.loads(capsys.readouterr().out)) == ["question_uuid"]


def test_remote_error_is_one_paragraph_and_exit_code_1(capsys):
    with Responder(PROJECT, fail) as child:
        code = main(["ask", child.sruid, "--input-values", '{"n": 2}', "--timeout", "60"])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.out == ""
    assert f"{child.sruid} failed to answer question" in captured.err
    assert "ValueError: n must be odd" in captured.err
    assert "Traceback" not in captured.err


def test_timeout_is_reported_with_exit_code_1(capsys):
    with subscribed_but_not_reading("test-org/nobody:1.0.0"):
        code = main(["ask", "test-org/nobody:1.0.0", "--input-values", '{"n": 2}', "--timeout", "1"])
    captured = capsys.readouterr()
    assert code == 1
    assert "within the timeout of 1 s" in captured.err
    assert "Traceback" not in captured.err


def test_bad_input_values_are_reported(capsys):
    code = main(["ask", "test-org/anyone:1.0.0", "--input-values", "{not json"])
    assert code == 1
    assert "--input-values from the command line is not valid JSON" in capsys.readouterr().err
