"""The service pipeline's graph builds for Dataflow offline (`--dry_run True`), with the options a Flex Template
passes; and runner selection maps DirectRunner onto the BundleBasedDirectRunner."""

import subprocess
import sys

import pytest
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from octue_beam.pipeline import ServiceOptions, build_service_pipeline, resolve_runner_name, select_runner
from tests.support.paths import FIXTURES, REPOSITORY

DATAFLOW_DRY_RUN = [
    "--runner", "DataflowRunner", "--dry_run", "True", "--no_auth", "--project", "my-project",
    "--region", "europe-west1", "--temp_location", "gs://valid-bucket-name/tmp",
]


def test_fractal_graph_builds_for_dataflow_offline():
    options = PipelineOptions([*DATAFLOW_DRY_RUN, "--service_dir", str(REPOSITORY / "examples" / "fractal"),
                               "--dead_letter_topic", "dead-letters", "--heartbeat_interval", "30",
                               "--record_answers=true"])
    pipeline, plan = build_service_pipeline(options)
    result = pipeline.run()

    assert plan.sruid == "octue-beam-examples/fractal:local"
    assert plan.subscription_path == "projects/my-project/subscriptions/octue-beam-examples.fractal.local"
    assert plan.topic_path == "projects/my-project/topics/main.octue.twined.services"
    assert plan.id_label == "uuid"  # Pub/Sub dedup where the runner supports it
    assert options.view_as(StandardOptions).streaming
    names = {t.unique_name for t in result.job.proto_pipeline.components.transforms.values()}
    for stage in (
        "ReadQuestions",
        "CheckQuestions",
        "AnswerQuestions",
        "RecordAnswers",
        "RejectMessages",
        "WriteDeadLetters",
    ):
        assert stage in names, sorted(names)
    assert plan.worker.heartbeat_interval == 30


def test_flex_template_launch_file_builds_and_exits():
    completed = subprocess.run(
        [sys.executable, str(REPOSITORY / "pipelines" / "launch.py"), *DATAFLOW_DRY_RUN,
         "--service_dir", str(FIXTURES / "behaviours"), "--revision_tag", "1.2.0", "--max_concurrent_questions", "4"],
        capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "octue-beam-tests/behaviours:1.2.0" in completed.stderr


def test_every_service_option_is_a_declared_pipeline_option():
    options = PipelineOptions(
        [
            "--service_dir", "x", "--revision_tag", "t", "--services_topic", "topic", "--subscription", "s",
            "--heartbeat_interval", "5", "--max_concurrent_questions", "3", "--dead_letter_topic", "d",
            "--max_message_bytes", "1000", "--local_pull_size", "20",
            "--record_answers=false", "--use_id_label", "none", "--seen_questions_capacity", "7",
            "--seen_questions_ttl", "9",
        ]
    )
    service = options.view_as(ServiceOptions)
    assert (service.heartbeat_interval, service.max_concurrent_questions, service.max_message_bytes) == (5.0, 3, 1000)
    assert service.record_answers is False and service.seen_questions_capacity == 7
    defaults = ServiceOptions([]).view_as(ServiceOptions)
    assert (defaults.heartbeat_interval, defaults.record_answers) == (60, False)
    assert PipelineOptions(["--record_answers"]).view_as(ServiceOptions).record_answers is True


@pytest.mark.parametrize(
    "given, used",
    [
        (None, "BundleBasedDirectRunner"),
        ("DirectRunner", "BundleBasedDirectRunner"),
        ("PrismRunner", "BundleBasedDirectRunner"),
        ("DataflowRunner", "DataflowRunner"),
    ],
)
def test_runner_selection(given, used):
    options = PipelineOptions([] if given is None else ["--runner", given])
    assert select_runner(options) == used
    assert options.view_as(StandardOptions).streaming


def test_an_unsupported_runner_is_a_clear_error():
    with pytest.raises(ValueError, match="FlinkRunner"):
        resolve_runner_name("FlinkRunner")


def test_template_parameters_name_every_service_option():
    from octue_beam.pipeline.options import template_parameters

    names = [parameter["name"] for parameter in template_parameters()]
    for name in ("service_dir", "revision_tag", "services_topic", "subscription", "heartbeat_interval",
                 "max_concurrent_questions", "dead_letter_topic", "max_message_bytes"):
        assert name in names
    # each parameter is accepted as a pipeline option in the form a Flex Template passes it
    options = PipelineOptions([f"--{name}=1" for name in names if name not in ("service_dir",)])
    assert options.view_as(ServiceOptions).heartbeat_interval == 1.0


def test_run_command_passes_beam_options_through_to_a_dataflow_dry_run():
    completed = subprocess.run(
        [sys.executable, "-m", "octue_beam", "run", str(REPOSITORY / "examples" / "fractal"), *DATAFLOW_DRY_RUN,
         "--revision-tag", "2.0.1", "--subscription", "custom-subscription", "--num_workers", "2"],
        cwd=REPOSITORY, capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "octue-beam-examples/fractal:2.0.1: pipeline built (dry run) on DataflowRunner" in completed.stdout
    assert "projects/my-project/subscriptions/custom-subscription" in completed.stdout


def test_topics_and_subscriptions_may_be_full_paths_in_other_projects():
    options = PipelineOptions([*DATAFLOW_DRY_RUN, "--service_dir", str(FIXTURES / "behaviours"),
                               "--services_topic", "projects/network-project/topics/services",
                               "--subscription", "projects/my-project/subscriptions/mine",
                               "--dead_letter_topic", "projects/other-project/topics/dead", "--use_id_label", "none"])
    _, plan = build_service_pipeline(options)
    assert plan.topic_path == "projects/network-project/topics/services"
    assert plan.worker.services_topic == "projects/network-project/topics/services"
    assert plan.subscription_path == "projects/my-project/subscriptions/mine"
    assert plan.dead_letter_topic == "projects/other-project/topics/dead"
    assert plan.id_label is None


def test_id_label_is_refused_on_the_local_runner():
    options = PipelineOptions(
        ["--service_dir", str(FIXTURES / "behaviours"), "--use_id_label", "uuid", "--project", "p-local"]
    )
    with pytest.raises(ValueError, match="DataflowRunner"):
        build_service_pipeline(options)
