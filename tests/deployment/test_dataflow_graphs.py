"""The Dataflow graph of every example service builds offline (`--runner DataflowRunner --dry_run True --no_auth`),
with the pipeline options its Flex Template passes (tests/pipeline/test_dataflow_graph.py checks the options of one
example in detail; here every example in examples/ must deploy)."""

from pathlib import Path

import pytest
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from octue_beam.pipeline import build_service_pipeline
from octue_beam.service.configuration import load_service_configuration, locate_services
from tests.support.paths import REPOSITORY

DATAFLOW_DRY_RUN = [
    "--runner", "DataflowRunner", "--dry_run", "True", "--no_auth", "--project", "my-project",
    "--region", "europe-west1", "--temp_location", "gs://valid-bucket-name/tmp",
]
STAGES = ("ReadQuestions", "CheckQuestions", "AnswerQuestions", "RejectMessages", "WriteDeadLetters")
EXAMPLES = sorted(path.parent for path in (REPOSITORY / "examples").rglob("octue.yaml"))
#: Every service of every example: (folder, name when its octue.yaml lists several, else None).
SERVICES = [location for folder in EXAMPLES for location in locate_services(folder)]


def _example_id(location) -> str:
    folder, name = location
    return Path(folder).relative_to(REPOSITORY / "examples").as_posix() + (f"[{name}]" if name else "")


def test_every_example_is_found():
    names = {folder.relative_to(REPOSITORY / "examples").as_posix() for folder in EXAMPLES}
    assert {"fractal", "using-manifests", "child-services/parent-service", "two-services"} <= names
    assert {_example_id(location) for location in SERVICES} >= {"two-services[statistics]", "two-services[units]"}


@pytest.mark.parametrize("location", SERVICES, ids=_example_id)
def test_the_dataflow_graph_of_every_example_builds_offline(location):
    example, name = location
    configuration = load_service_configuration(example, revision_tag="1.0.0", service_name=name)
    chosen = [f"--service_name={name}"] if name else []
    options = PipelineOptions(
        [
            *DATAFLOW_DRY_RUN, f"--service_dir={example}", "--revision_tag=1.0.0", "--dead_letter_topic=dead-letters",
            *chosen,
        ]
    )
    pipeline, plan = build_service_pipeline(options)
    result = pipeline.run()

    assert plan.sruid == f"{configuration.namespace}/{configuration.name}:1.0.0"
    assert plan.runner == "DataflowRunner" and options.view_as(StandardOptions).streaming
    subscription = f"{configuration.namespace}.{configuration.name}.1-0-0"  # the Pub/Sub form of the SRUID
    assert plan.subscription_path == f"projects/my-project/subscriptions/{subscription}"
    assert plan.dead_letter_topic == "projects/my-project/topics/dead-letters"
    names = {transform.unique_name for transform in result.job.proto_pipeline.components.transforms.values()}
    assert set(STAGES) <= names, sorted(names)
