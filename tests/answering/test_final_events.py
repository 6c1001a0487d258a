"""`PendingAnswer.wait`: a final event the publisher refused for good is replaced by an exception saying why; one
whose publish merely timed out is not (it may still arrive: under load parents got a result and then an exception)."""

from concurrent import futures

from google.api_core import exceptions as api_exceptions

from octue_beam.answering import Answerer, check_message
from octue_beam.messaging.parsing import MAX_MESSAGE_BYTES
from octue_beam.messaging.publishing import MemoryPublisher
from tests.support.paths import FIXTURES
from tests.support.wire import octue_question

SRUID = "octue-beam-tests/behaviours:local"
PARENT = "octue-beam-tests/final-events-parent:local"


def question(values):
    data, attributes = octue_question(SRUID, PARENT, values)
    return check_message(data, attributes, SRUID, MAX_MESSAGE_BYTES)


def answerer(publisher, **options) -> Answerer:
    return Answerer.load(str(FIXTURES / "behaviours"), publisher, sruid=SRUID, heartbeat_interval=0, **options)


def kinds(publisher: MemoryPublisher, question_uuid: str) -> list[str]:
    return [event["kind"] for event, attributes in publisher.events() if attributes["question_uuid"] == question_uuid]


def test_an_answer_too_big_for_pubsub_becomes_one_exception_saying_to_use_an_output_manifest():
    publisher = MemoryPublisher(max_message_bytes=5000)
    asked = question({"action": "big", "bytes": 6000})
    answer = answerer(publisher).answer(asked).wait()
    assert answer.kind == "exception"
    assert answer.event["exception_type"] == "MessageTooLarge"
    assert "could not be sent" in answer.event["exception_message"]
    assert "limit of 5000 bytes" in answer.event["exception_message"]
    assert "output manifest" in answer.event["exception_message"]
    assert [kind for kind in kinds(publisher, asked.question_uuid) if kind in ("result", "exception")] == ["exception"]


class TimingOutResults(MemoryPublisher):
    """Results are handed to Pub/Sub but never confirmed (a timeout), or fail with DEADLINE_EXCEEDED: either way
    they may still arrive. Everything else is kept as usual."""

    def __init__(self, error: BaseException | None) -> None:
        super().__init__()
        self.error = error
        self.results_handed_over = 0

    def publish(self, event, attributes, wait=False):
        if event.get("kind") != "result":
            return super().publish(event, attributes, wait)
        self.results_handed_over += 1
        future: futures.Future = futures.Future()
        if self.error is not None:
            future.set_exception(self.error)
        return future


def test_a_final_event_whose_publish_timed_out_is_not_followed_by_an_exception():
    for error in (None, api_exceptions.DeadlineExceeded("504 Deadline Exceeded")):
        publisher = TimingOutResults(error)
        asked = question({"action": "echo", "value": 1})
        answer = answerer(publisher, publish_timeout=0.01).answer(asked).wait()
        assert answer.kind == "result"
        assert publisher.results_handed_over == 1
        assert "exception" not in kinds(publisher, asked.question_uuid)  # no replacement exception
