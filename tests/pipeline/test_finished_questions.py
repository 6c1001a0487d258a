"""`FinishedQuestions`: the Answers a local-runner bundle outputs are those whose final event was sent, in the order
the questions were handed over, each exactly once, whatever order they finish in."""

from concurrent import futures

from octue_beam.answering.core import PendingAnswer
from octue_beam.answering.emitting import QuestionEmitter
from octue_beam.messaging.publishing import MemoryPublisher
from octue_beam.pipeline.worker import FinishedQuestions


def pending(question_uuid: str) -> tuple[PendingAnswer, futures.Future]:
    sink: futures.Future = futures.Future()
    emitter = QuestionEmitter(MemoryPublisher(), {"question_uuid": question_uuid})
    return PendingAnswer(emitter, {"kind": "result"}, sink), sink


def test_only_questions_whose_final_event_was_sent_are_taken_in_the_order_handed_over():
    finished = FinishedQuestions()
    runner_futures = [futures.Future() for _ in range(4)]
    for future in runner_futures:
        finished.add(future)
    answers = [pending(f"q{number}") for number in range(3)]

    runner_futures[2].set_result(answers[2][0])
    runner_futures[0].set_result(answers[0][0])
    runner_futures[3].set_result(None)  # a duplicate: nothing to send
    assert finished.take() == [None] and len(finished) == 3, "a question was taken before its final event was sent"

    answers[2][1].set_result("id-2")
    answers[0][1].set_result("id-0")
    assert [each.question_uuid for each in finished.take()] == ["q0", "q2"]
    assert finished.take() == [] and len(finished) == 1

    runner_futures[1].set_result(answers[1][0])
    answers[1][1].set_exception(ValueError("refused"))  # `wait()` replaces a refused final event: taken too
    assert [each.question_uuid for each in finished.take()] == ["q1"]
    assert len(finished) == 0
