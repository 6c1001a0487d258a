"""octue_beam's pytest plugin: registered through the package's entry point; its fixtures serve and ask a service."""

import os
from pathlib import Path

from octue_beam.testing.pytest_plugin import TEST_PROJECT

FRACTAL = Path(__file__).resolve().parents[2] / "examples" / "fractal"


def test_the_plugin_is_registered_by_its_entry_point(pytestconfig):
    import octue_beam.testing.pytest_plugin as plugin

    assert pytestconfig.pluginmanager.get_plugin("octue_beam") is plugin


def test_local_service_serves_the_fractal_example_and_answers_questions(
    local_service, pubsub_emulator, storage_emulator
):
    assert os.environ["PUBSUB_EMULATOR_HOST"] == pubsub_emulator.host_port
    assert os.environ["GOOGLE_CLOUD_PROJECT"] == TEST_PROJECT
    service = local_service(FRACTAL, "--heartbeat_interval", "1")
    assert service.sruid == "octue-beam-examples/fractal:local"

    events = []
    answer, question_uuid = service.ask({"width": 8, "height": 6, "n_iterations": 5}, record_events=events, timeout=60)
    z = answer["output_values"]["data"]["z"]
    assert len(z) == 6 and len(z[0]) == 8
    assert events[0]["event"]["kind"] == "delivery_acknowledgement" and events[-1]["event"]["kind"] == "result"
    assert all(event["attributes"]["question_uuid"] == question_uuid for event in events)
    assert service.process is not None and service.process.poll() is None  # running until the test ends
