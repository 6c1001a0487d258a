"""End to end: the child-services example, a parent service whose app asks two child services, all three served
as pipelines on the local runner, asked through `octue_beam.ask`."""

import os
import uuid

import pytest

from tests.pipeline.serving import REPOSITORY, ServiceProcess

EXAMPLE = REPOSITORY / "examples" / "child-services"
CHILD_PROJECT = "octue-beam-local"  # the project named by the children's backend in the example's octue.yaml


@pytest.fixture(scope="module")
def services(pubsub_emulator):
    saved = os.environ.get("GOOGLE_CLOUD_PROJECT")
    os.environ["GOOGLE_CLOUD_PROJECT"] = CHILD_PROJECT
    topic = f"test.children.{uuid.uuid4().hex[:8]}"
    processes = [ServiceProcess(EXAMPLE / name, topic_name=topic) for name in ("wind-speed-service", "elevation-service", "parent-service")]
    try:
        for process in processes:
            process.launch()
        for process in processes:
            process.wait_until_ready()
        yield topic
    finally:
        for process in processes:
            process.stop()
        if saved is None:
            os.environ.pop("GOOGLE_CLOUD_PROJECT", None)
        else:
            os.environ["GOOGLE_CLOUD_PROJECT"] = saved


def test_a_parent_service_asks_its_children_through_the_pipeline(services):
    from octue_beam import ask

    locations = [{"latitude": 51.5, "longitude": -0.1}, {"latitude": -33.9, "longitude": 151.2}]
    answer, _ = ask("octue-beam-examples/parent-service:local", {"locations": locations}, topic_name=services,
                    project=CHILD_PROJECT, timeout=120)
    output = answer["output_values"]
    assert len(output["wind_speeds"]) == 2 and len(output["elevations"]) == 2
