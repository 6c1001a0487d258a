"""The stages also run on Beam's portable (Fn API) execution, which Dataflow's workers use: the DoFns pickle,
`setup` loads the service, `finish_bundle` outputs the final events. Questions come from `beam.Create` (batch),
events still go to the Pub/Sub emulator."""

import os
import uuid

import apache_beam as beam
from apache_beam.io.gcp.pubsub import PubsubMessage
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that

from octue_beam.messaging.pubsub import ensure_topic
from octue_beam.pipeline.transforms import AnswerQuestions, CheckQuestions, RejectMessages, WriteDeadLetters
from octue_beam.pipeline.worker import WorkerConfig
from tests.support.paths import FIXTURES
from tests.support.wire import octue_question

SRUID = "octue-beam-tests/behaviours:local"
PARENT = "octue-beam-tests/portable-parent:local"


def test_stages_run_on_the_fn_api_runner(pubsub_emulator):
    project = os.environ["GOOGLE_CLOUD_PROJECT"]
    topic = f"test.portable.{uuid.uuid4().hex[:8]}"
    ensure_topic(project, topic)
    config = WorkerConfig(
        service_dir=str(FIXTURES / "behaviours"), sruid=SRUID, project=project,
        services_topic=f"projects/{project}/topics/{topic}", heartbeat_interval=0,
    )
    messages = []
    for values in ({"action": "echo", "value": 1}, {"action": "crash"}):
        data, attributes = octue_question(SRUID, PARENT, values)
        messages.append(PubsubMessage(data, attributes))
    data, attributes = octue_question("octue-beam-tests/someone-else:local", PARENT, {"action": "echo"})
    messages.append(PubsubMessage(data, attributes))  # not for this service: ignored
    _, attributes = octue_question(SRUID, PARENT, {"action": "echo"})
    messages.append(PubsubMessage(b"not json", attributes))  # broken: rejected

    def check_answers(finals):
        kinds = sorted(final.event["kind"] for final in finals)
        assert kinds == ["exception", "result"], finals
        assert all(final.attributes["recipient"] == PARENT for final in finals)

    def check_letters(letters):
        assert len(letters) == 1, letters
        assert "not valid JSON" in letters[0].reason

    with beam.Pipeline(options=PipelineOptions(["--runner", "FnApiRunner"])) as pipeline:
        checked = pipeline | beam.Create(messages) | CheckQuestions(SRUID, 10_000_000)
        answers = checked.questions | AnswerQuestions(config)
        letters = checked.invalid | RejectMessages(config)
        letters | WriteDeadLetters()
        assert_that(answers, check_answers, label="answers")
        assert_that(letters, check_letters, label="letters")


def test_a_service_that_cannot_load_on_a_worker_answers_every_question_with_the_error(pubsub_emulator, tmp_path):
    project = os.environ["GOOGLE_CLOUD_PROJECT"]
    topic = f"test.portable.{uuid.uuid4().hex[:8]}"
    ensure_topic(project, topic)
    (tmp_path / "octue.yaml").write_text("services:\n  - namespace: octue-beam-tests\n    name: broken\n")
    (tmp_path / "twine.json").write_text("{}")
    (tmp_path / "app.py").write_text("raise RuntimeError('missing dependency on this worker')\n")
    sruid = "octue-beam-tests/broken:local"
    config = WorkerConfig(service_dir=str(tmp_path), sruid=sruid, project=project,
                          services_topic=f"projects/{project}/topics/{topic}", heartbeat_interval=0)
    data, attributes = octue_question(sruid, PARENT, None)

    def check_answers(finals):
        assert len(finals) == 1 and finals[0].event["kind"] == "exception", finals
        assert "missing dependency on this worker" in finals[0].event["exception_message"]

    with beam.Pipeline(options=PipelineOptions(["--runner", "FnApiRunner"])) as pipeline:
        checked = pipeline | beam.Create([PubsubMessage(data, attributes)]) | CheckQuestions(sruid, 10_000_000)
        assert_that(checked.questions | AnswerQuestions(config), check_answers)
