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
from tests.pipeline.serving import FIXTURES
from tests.pipeline.wire import octue_question

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
        kinds = sorted(final["event"]["kind"] for final in finals)
        assert kinds == ["exception", "result"], finals
        assert all(final["attributes"]["recipient"] == PARENT for final in finals)

    def check_letters(letters):
        assert len(letters) == 1, letters
        assert "not valid JSON" in letters[0]["reason"]

    with beam.Pipeline(options=PipelineOptions(["--runner", "FnApiRunner"])) as pipeline:
        checked = pipeline | beam.Create(messages) | CheckQuestions(SRUID, 10_000_000)
        answers = checked.questions | AnswerQuestions(config)
        letters = checked.invalid | RejectMessages(config)
        letters | WriteDeadLetters()
        assert_that(answers, check_answers, label="answers")
        assert_that(letters, check_letters, label="letters")
