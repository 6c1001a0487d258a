"""Where the time limit per question comes from (`--question_timeout`, octue.yaml's `question_timeout`, the default),
which runner's AnswerQuestions holds its bundles, and the parent's default wait that follows the time limit."""

import inspect

import apache_beam as beam
import pytest
import yaml
from apache_beam.options.pipeline_options import PipelineOptions

from octue_beam.asking import ask
from octue_beam.asking.questions import AskOptions
from octue_beam.asking.remote_errors import remote_exception
from octue_beam.cli import build_parser
from octue_beam.exceptions import InvalidServiceConfiguration, QuestionTimeLimitExceeded
from octue_beam.messaging.timeouts import DEFAULT_ASK_TIMEOUT, DEFAULT_QUESTION_TIMEOUT
from octue_beam.pipeline import build_service_pipeline
from octue_beam.pipeline.building import plan_service
from octue_beam.pipeline.transforms import AnswerQuestions
from octue_beam.service.configuration import load_service_configuration
from tests.support.paths import FIXTURES

BEHAVIOURS = str(FIXTURES / "behaviours")
LOCAL = ["--service_dir", BEHAVIOURS, "--project", "my-project"]
DATAFLOW_DRY_RUN = [
    "--runner", "DataflowRunner", "--dry_run", "True", "--no_auth", "--project", "my-project",
    "--region", "europe-west1", "--temp_location", "gs://valid-bucket-name/tmp",
]


def answer_stage(pipeline: beam.Pipeline) -> AnswerQuestions:
    found = []

    class Visitor(beam.pipeline.PipelineVisitor):
        def enter_composite_transform(self, node):
            if isinstance(node.transform, AnswerQuestions):
                found.append(node.transform)

    pipeline.visit(Visitor())
    (stage,) = found
    return stage


def test_the_local_runner_does_not_hold_bundles_and_dataflow_does():
    local, plan = build_service_pipeline(PipelineOptions(LOCAL))
    assert plan.wait_for_answers is False and answer_stage(local).wait is False

    dataflow, plan = build_service_pipeline(PipelineOptions([*DATAFLOW_DRY_RUN, "--service_dir", BEHAVIOURS]))
    assert plan.wait_for_answers is True and answer_stage(dataflow).wait is True

    assert AnswerQuestions(plan.worker).wait is True  # bounded pipelines (beam.Create) keep waiting by default


def test_question_timeout_is_a_pipeline_option_left_to_octue_yaml_when_not_given():
    assert plan_service(PipelineOptions([*LOCAL, "--question_timeout", "2.5"])).worker.question_timeout == 2.5
    assert plan_service(PipelineOptions(LOCAL)).worker.question_timeout is None


@pytest.mark.parametrize("value", ["0", "-1", "soon", "inf"])
def test_question_timeout_option_must_be_a_positive_number_of_seconds(value):
    with pytest.raises(SystemExit):
        plan_service(PipelineOptions([*LOCAL, "--question_timeout", value]))


def write_service(folder, **keys):
    (folder / "octue.yaml").write_text(yaml.safe_dump({"services": [{"namespace": "my-org", "name": "svc", **keys}]}))
    return folder


def test_octue_yaml_question_timeout_is_read_and_validated(tmp_path):
    assert load_service_configuration(write_service(tmp_path, question_timeout=90)).question_timeout == 90.0
    assert load_service_configuration(write_service(tmp_path, question_timeout=0.5)).question_timeout == 0.5
    assert load_service_configuration(write_service(tmp_path)).question_timeout is None
    for bad in ("an hour", True, 0, -5, float("inf"), [60]):
        with pytest.raises(InvalidServiceConfiguration, match="question_timeout"):
            load_service_configuration(write_service(tmp_path, question_timeout=bad))


def test_a_parents_default_wait_is_the_default_time_limit_plus_a_margin():
    assert DEFAULT_QUESTION_TIMEOUT < DEFAULT_ASK_TIMEOUT < 86400
    assert inspect.signature(ask).parameters["timeout"].default == DEFAULT_ASK_TIMEOUT
    assert AskOptions().timeout == DEFAULT_ASK_TIMEOUT  # Child.ask and ask_multiple build AskOptions
    assert build_parser().parse_args(["ask", "a/b:c"]).timeout == DEFAULT_ASK_TIMEOUT


def test_a_parent_raises_the_time_limit_exception_as_its_own_type():
    event = {"kind": "exception", "exception_type": "QuestionTimeLimitExceeded", "exception_message": "stopped"}
    assert isinstance(remote_exception(event, {"sender": "a/b:c"}), QuestionTimeLimitExceeded)
