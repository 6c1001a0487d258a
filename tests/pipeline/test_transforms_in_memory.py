"""The pipeline's stages driven with `beam.Create` and an in-memory publisher: no emulator, the real DoFns and runners.

Every stage of one pipeline reaches one `ServiceWorker` per process through one `ServiceWorkers` handle; the
publisher factory is the only thing swapped (`MemoryPublisher` instead of Pub/Sub).
"""

import collections
import pickle
import uuid

import apache_beam as beam
import pytest
from apache_beam.io.gcp.pubsub import PubsubMessage
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that

from octue_beam.answering.values import DEAD_LETTER_REASON_ATTRIBUTE
from octue_beam.messaging.publishing import MemoryPublisher
from octue_beam.pipeline.transforms import AnswerQuestions, CheckQuestions, RejectMessages, WriteDeadLetters
from octue_beam.pipeline.worker import ServiceWorkers, WorkerConfig
from tests.support.paths import FIXTURES
from tests.support.wire import octue_question

SRUID = "octue-beam-tests/behaviours:local"
PARENT = "octue-beam-tests/in-memory-parent:local"

# The runners below run in this process, so the factory (pickled by reference) fills these.
SINKS: dict[str, MemoryPublisher] = {}
MADE = collections.Counter()


def memory_publisher(topic: str) -> MemoryPublisher:
    MADE[topic] += 1
    return SINKS.setdefault(topic, MemoryPublisher())


def messages() -> tuple[list, dict[str, str]]:
    """Two questions for the service, one for someone else, one broken; and which question UUID asked what."""
    asked, built = {}, []
    for values in ({"action": "echo", "value": 1}, {"action": "crash"}):
        data, attributes = octue_question(SRUID, PARENT, values)
        asked[attributes["question_uuid"]] = values["action"]
        built.append(PubsubMessage(data, attributes))
    data, attributes = octue_question("octue-beam-tests/someone-else:local", PARENT, {"action": "echo"})
    built.append(PubsubMessage(data, attributes))
    _, attributes = octue_question(SRUID, PARENT, {"action": "echo"})
    asked[attributes["question_uuid"]] = "broken"
    built.append(PubsubMessage(b"not json", attributes))
    return built, asked


@pytest.mark.parametrize("runner", ["BundleBasedDirectRunner", "FnApiRunner"])
def test_the_stages_answer_reject_and_dead_letter_through_one_worker_per_process(runner):
    suffix = uuid.uuid4().hex[:8]
    services_topic = f"projects/in-memory/topics/services.{suffix}"
    dead_letter_topic = f"projects/in-memory/topics/dead-letters.{suffix}"
    workers = ServiceWorkers(
        WorkerConfig(service_dir=str(FIXTURES / "behaviours"), sruid=SRUID, project="in-memory",
                     services_topic=services_topic, heartbeat_interval=0),
        publisher_factory=memory_publisher,
    )
    built, asked = messages()

    def check_answers(answers):
        assert sorted(answer.kind for answer in answers) == ["exception", "result"], answers
        assert {answer.question_uuid: answer.kind for answer in answers} == {
            uuid_: "result" if action == "echo" else "exception"
            for uuid_, action in asked.items()
            if action != "broken"
        }

    def check_letters(letters):
        assert len(letters) == 1 and "not valid JSON" in letters[0].reason, letters

    with beam.Pipeline(options=PipelineOptions(["--runner", runner])) as pipeline:
        checked = pipeline | beam.Create(built) | CheckQuestions(SRUID, 10_000_000)
        answers = checked.questions | AnswerQuestions(workers)
        letters = checked.invalid | RejectMessages(workers)
        letters | WriteDeadLetters(dead_letter_topic, workers)
        assert_that(answers, check_answers, label="answers")
        assert_that(letters, check_letters, label="letters")

    assert MADE[services_topic] == 1, "the stages did not share one worker (and one publisher) in this process"
    sent = SINKS[services_topic].events()
    by_question = collections.defaultdict(list)
    for event, attributes in sent:
        by_question[attributes["question_uuid"]].append(event["kind"])
        assert attributes["recipient"] == PARENT and attributes["sender"] == SRUID
    for question_uuid, action in asked.items():
        expected = {"echo": "result", "crash": "exception", "broken": "exception"}[action]
        assert by_question[question_uuid][-1] == expected
        assert [kind for kind in by_question[question_uuid] if kind in ("result", "exception")] == [expected]
    assert len(by_question) == 3  # the question for someone else got nothing

    ((data, attributes),) = SINKS[dead_letter_topic].messages
    assert data == b"not json"
    assert "not valid JSON" in attributes[DEAD_LETTER_REASON_ATTRIBUTE]


def test_writing_dead_letters_to_a_topic_needs_the_pipelines_workers():
    with pytest.raises(ValueError, match="ServiceWorkers"):
        WriteDeadLetters("projects/p/topics/t")


def test_copies_of_a_handle_reach_the_same_worker_and_closing_it_releases_the_publisher():
    topic = f"projects/in-memory/topics/services.{uuid.uuid4().hex[:8]}"
    workers = ServiceWorkers(
        WorkerConfig(service_dir=str(FIXTURES / "behaviours"), sruid=SRUID, project="in-memory",
                     services_topic=topic, heartbeat_interval=0),
        publisher_factory=memory_publisher,
    )
    worker = workers.acquire()
    assert workers.acquire() is worker
    assert pickle.loads(pickle.dumps(workers)).acquire() is worker  # each DoFn copy carries the handle pickled
    assert worker.answerer.service.sruid == SRUID
    worker.close()
    assert SINKS[topic].closed
