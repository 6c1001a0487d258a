"""Octue names an app uses that octue_beam provides at the path the import rewrite maps them to: Octue's `Runner`,
`RegisteredTemporaryDirectory` and its essential monitor messages."""

import gc
import os

import pytest

from octue_beam.exceptions import InvalidValuesContents
from octue_beam.resources import cache
from octue_beam.service.monitor_messages import send_estimated_seconds_remaining, send_status_text
from octue_beam.service.runner import Runner
from octue_beam.utils.files import RegisteredTemporaryDirectory

TWINE = {
    "configuration_values_schema": {"type": "object", "properties": {"factor": {"type": "integer"}},
                                    "required": ["factor"]},
    "input_values_schema": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]},
    "output_values_schema": {"type": "object", "properties": {"product": {"type": "integer"}}},
    "monitor_message_schema": {"type": "object"},
}


def test_a_registered_temporary_directory_outlives_its_object_until_the_question_ends():
    with cache.scope("a-question"):
        folder = RegisteredTemporaryDirectory().name
        gc.collect()
        assert os.path.isdir(folder)
    assert not os.path.exists(folder)


def test_the_runner_runs_an_app_as_octues_does(tmp_path):
    (tmp_path / "app.py").write_text(
        "def run(analysis):\n"
        "    values = analysis.input_values['n'] * analysis.configuration_values['factor']\n"
        "    analysis.output_values = {'product': values}\n"
    )
    (tmp_path / "values.json").write_text('{"n": 7}')
    runner = Runner(app_src=str(tmp_path), twine=TWINE, configuration_values='{"factor": 6}')
    assert runner.run(input_values=str(tmp_path / "values.json")).output_values == {"product": 42}
    assert runner.run(input_values={"n": 2}).output_values == {"product": 12}
    with pytest.raises(InvalidValuesContents):
        runner.run(input_values={"n": "seven"})


def test_the_runner_takes_a_function_or_an_app_class_and_checks_configuration_once():
    class App:
        def __init__(self, analysis):
            self.analysis = analysis

        def run(self):
            self.analysis.output_values = {"product": -self.analysis.input_values["n"]}

    assert Runner(app_src=App, twine=TWINE, configuration_values={"factor": 1}).run(
        input_values={"n": 3}).output_values == {"product": -3}
    with pytest.raises(InvalidValuesContents):
        Runner(app_src=lambda analysis: None, twine=TWINE, configuration_values={"factor": "x"})


def test_essential_monitor_messages_reach_the_parent():
    sent = []

    def app(analysis):
        send_status_text(analysis, "Halfway.", "my-service")
        send_estimated_seconds_remaining(analysis, 30.5, "my-service")
        analysis.output_values = {"product": 0}

    Runner(app_src=app, twine=TWINE, configuration_values={"factor": 1}).run(
        input_values={"n": 0}, handle_monitor_message=sent.append
    )
    assert [{key: value for key, value in message.items() if key != "date_time"} for message in sent] == [
        {"service": "my-service", "status_text": "Halfway."},
        {"service": "my-service", "estimated_seconds_remaining": 30.5},
    ]
    assert all(message["date_time"].endswith("+00:00") for message in sent)
