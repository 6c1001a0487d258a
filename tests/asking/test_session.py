"""The process's asking state is one replaceable `AskingSession` (unit tests: nothing here talks to Pub/Sub)."""

import queue

from octue_beam.asking.questions import Question
from octue_beam.asking.session import AskingSession, TrackedQuestion, default_session, use_session
from octue_beam.asking.waiting import Waiter
from octue_beam.messaging import pubsub


class FakeListener:
    def __init__(self) -> None:
        self.unregistered: list[str] = []

    def unregister(self, question_uuid: str) -> None:
        self.unregistered.append(question_uuid)


def test_the_default_session_can_be_replaced_and_restored():
    session = AskingSession()
    previous = use_session(session)
    try:
        assert default_session() is session
    finally:
        assert use_session(previous) is session
    assert default_session() is previous


def test_one_question_publisher_per_topic_and_emulator_closed_with_the_session():
    session = AskingSession()
    publisher = session.publisher("proj", None, "localhost:1")
    assert session.publisher("proj", None, "localhost:1") is publisher
    assert session.publisher("proj", "other-topic", "localhost:1") is not publisher
    assert session.publisher("proj", None, "localhost:2") is not publisher
    session.close()
    assert session.publisher("proj", None, "localhost:1") is not publisher
    session.close()


def test_topics_are_only_made_on_emulators():
    AskingSession().ensure_emulator_topic("proj", None, "")  # the real Pub/Sub: nothing is called


def test_asynchronous_questions_are_tracked_until_forgotten():
    session = AskingSession()
    question = Question("my-org/child:1.0.0", "proj", None, "local/local-x:local", {}, {"question_uuid": "q-1"})
    tracked = TrackedQuestion(question, Waiter(queue.Queue(), lambda *_: None), FakeListener())
    session.track(tracked)
    assert session.tracked("q-1") is tracked
    assert session.forget("q-1") is tracked
    assert session.tracked("q-1") is None
    assert session.forget("q-1") is None


def test_a_topic_found_missing_on_an_emulator_is_made_again_at_once(monkeypatch):
    made = []
    monkeypatch.setattr(pubsub, "ensure_topic", lambda project, name, emulator_host: made.append(name))
    session = AskingSession()
    session.ensure_emulator_topic("proj", "t", "localhost:1")
    session.ensure_emulator_topic("proj", "t", "localhost:1")  # checked moments ago: not again
    assert made == ["t"]
    session.topic_missing("proj", "t", "localhost:1")  # a publish found it missing: the emulator restarted
    session.ensure_emulator_topic("proj", "t", "localhost:1")
    assert made == ["t", "t"]
