"""End to end: the fractal example served by `python -m octue_beam run examples/fractal --runner DirectRunner` on
the session's Pub/Sub emulator, asked through `octue_beam.ask`."""

import os

import pytest

from octue_beam.testing import LocalService
from tests.support.paths import REPOSITORY

FRACTAL_SRUID = "octue-beam-examples/fractal:local"


@pytest.fixture(scope="module")
def fractal_service(pubsub_emulator):
    process = LocalService(REPOSITORY / "examples" / "fractal", "--heartbeat_interval", "1",
                           environment={"STORAGE_EMULATOR_HOST": None}, cwd=REPOSITORY).start()
    try:
        yield process
    finally:
        process.stop()


def test_fractal_service_answers_a_question_asked_with_ask(fractal_service):
    from octue_beam import ask
    from octue_beam.service.loading import load_service

    events = []
    answer, question_uuid = ask(
        FRACTAL_SRUID,
        {"width": 12, "height": 10, "n_iterations": 8},
        topic_name=fractal_service.topic_name,
        project=os.environ["GOOGLE_CLOUD_PROJECT"],
        timeout=60,
        record_events=events,
    )
    twine = load_service(REPOSITORY / "examples" / "fractal").twine
    twine.validate(output_values=answer["output_values"])  # raises if the answer breaks the twine
    surface = answer["output_values"]["data"]
    assert len(surface["z"]) == 10 and len(surface["z"][0]) == 12
    kinds = [event["event"]["kind"] for event in events]
    assert kinds[0] == "delivery_acknowledgement" and kinds[-1] == "result"
    assert all(event["attributes"]["question_uuid"] == question_uuid for event in events)


def test_fractal_service_rejects_invalid_inputs_and_keeps_serving(fractal_service):
    from octue_beam import ask
    from octue_beam.exceptions import InvalidValuesContents

    project = os.environ["GOOGLE_CLOUD_PROJECT"]
    with pytest.raises(InvalidValuesContents, match="width"):
        ask(FRACTAL_SRUID, {"width": "wide"}, topic_name=fractal_service.topic_name, project=project, timeout=60)
    answer, _ = ask(
        FRACTAL_SRUID, {"width": 4, "height": 4}, topic_name=fractal_service.topic_name, project=project, timeout=60
    )
    assert len(answer["output_values"]["data"]["z"]) == 4
