"""End to end: the child-services example, a parent service whose app asks two child services, all three served
as pipelines on the local runner, asked through `octue_beam.ask`."""

import contextlib
import os
import uuid

import pytest

from octue_beam.testing import LocalService
from tests.support.paths import REPOSITORY

EXAMPLE = REPOSITORY / "examples" / "child-services"
CHILD_PROJECT = "octue-beam-local"  # the project named by the children's backend in the example's octue.yaml


@contextlib.contextmanager
def serving(service_dirs, topic_prefix, *options):
    """Serve the services as pipelines (with the pipeline `options`) on a new topic in the children's project;
    yields the topic."""
    saved = os.environ.get("GOOGLE_CLOUD_PROJECT")
    os.environ["GOOGLE_CLOUD_PROJECT"] = CHILD_PROJECT
    topic = f"{topic_prefix}.{uuid.uuid4().hex[:8]}"
    processes = [
        LocalService(service_dir, *options, topic_name=topic, environment={"STORAGE_EMULATOR_HOST": None},
                     cwd=REPOSITORY)
        for service_dir in service_dirs
    ]
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


@pytest.fixture(scope="module")
def services(pubsub_emulator):
    with serving(
        [EXAMPLE / name for name in ("wind-speed-service", "elevation-service", "parent-service")], "test.children"
    ) as topic:
        yield topic


def test_a_parent_service_asks_its_children_through_the_pipeline(services):
    from octue_beam import ask

    locations = [{"latitude": 51.5, "longitude": -0.1}, {"latitude": -33.9, "longitude": 151.2}]
    answer, _ = ask("octue-beam-examples/parent-service:local", {"locations": locations}, topic_name=services,
                    project=CHILD_PROJECT, timeout=120)
    output = answer["output_values"]
    assert len(output["wind_speeds"]) == 2 and len(output["elevations"]) == 2


@pytest.fixture(scope="module")
def parent_and_child(pubsub_emulator):
    """The asking-parent test service and its child, the behaviours test service, each served as a pipeline."""
    fixtures = REPOSITORY / "tests" / "pipeline" / "fixtures"
    with serving([fixtures / "behaviours", fixtures / "asking-parent"], "test.child-errors") as topic:
        yield topic


def _ask_parent(topic, input_values):
    from octue_beam import ask

    return ask(
        "octue-beam-tests/asking-parent:local", input_values, topic_name=topic, project=CHILD_PROJECT, timeout=120
    )


def test_a_child_crash_reaches_the_parent_app_as_an_exception_of_its_type(parent_and_child):
    answer, _ = _ask_parent(parent_and_child, {"child_action": "crash", "catch": True})
    assert answer["output_values"] == {"caught": "ValueError", "message": "The app crashed on purpose (value=None)."}


def test_an_uncaught_child_crash_fails_the_parent_question_with_the_child_exception_type(parent_and_child):
    with pytest.raises(ValueError, match="The app crashed on purpose"):
        _ask_parent(parent_and_child, {"child_action": "crash"})


def test_the_parent_still_answers_after_its_child_crashed(parent_and_child):
    answer, _ = _ask_parent(parent_and_child, {"child_action": "echo"})
    assert answer["output_values"] == {"child_output": {"action": "echo", "value": None}}
