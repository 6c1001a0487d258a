"""No question blocks another, in-process: the `QuestionRunner`'s time limit, slots and queue, and the
AnswerQuestion DoFn that does not hold its bundle, driven with an in-memory publisher (no emulator, no subprocess).

The apps here sleep a few seconds rather than hang forever, so no thread outlives its test by long.
"""

import threading
import time

import pytest

from octue_beam.answering import Answerer, QuestionRunner, check_message
from octue_beam.answering import runner as runner_module
from octue_beam.answering.values import Question
from octue_beam.messaging.publishing import MemoryPublisher
from octue_beam.pipeline.transforms import _AnswerQuestion
from octue_beam.pipeline.worker import ServiceWorker, ServiceWorkers, WorkerConfig
from tests.support.paths import FIXTURES
from tests.support.wire import octue_question

SRUID = "octue-beam-tests/behaviours:local"
PARENT = "octue-beam-tests/time-limit-parent:local"
FINAL = ("result", "exception")


def question(values, **options) -> Question:
    data, attributes = octue_question(SRUID, PARENT, values, **options)
    checked = check_message(data, attributes, SRUID, 10_000_000)
    assert isinstance(checked, Question), checked
    return checked


def kinds(publisher: MemoryPublisher, asked: Question) -> list[str]:
    return [
        event["kind"] for event, attributes in publisher.events() if attributes["question_uuid"] == asked.question_uuid
    ]


def wait_until(condition, timeout=30.0, interval=0.02):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition did not become true in time"
        time.sleep(interval)


@pytest.fixture
def publisher():
    return MemoryPublisher()


@pytest.fixture
def answerer(publisher):
    answerer = Answerer.load(str(FIXTURES / "behaviours"), publisher, sruid=SRUID, heartbeat_interval=0.1)
    yield answerer
    answerer.close()


def runner_of(answerer, **options) -> QuestionRunner:
    return QuestionRunner(answerer, **options)


def threads_running_apps(answerer, monkeypatch) -> dict:
    """The thread that runs each question's app, by question UUID, filled in as the answerer runs them."""
    threads = {}
    run = answerer._run

    def recording(asked, emitter):
        threads[asked.question_uuid] = threading.current_thread()
        return run(asked, emitter)

    monkeypatch.setattr(answerer, "_run", recording)
    return threads


def test_a_question_over_its_time_limit_gets_one_exception_naming_the_limit_and_nothing_after(answerer, publisher):
    runner = runner_of(answerer, max_concurrent_questions=1, question_timeout=0.5)
    try:
        asked = question({"action": "sleep", "seconds": 2}, forward_logs=True)
        answer = runner.submit(asked).result(timeout=30).wait()

        assert answer.kind == "exception"
        assert answer.event["exception_type"] == "QuestionTimeLimitExceeded"
        message = answer.event["exception_message"]
        assert "0.5 s" in message and "question_timeout" in message and "--question_timeout" in message
        assert any("time.sleep" in line for line in answer.event["exception_traceback"]), "not where the app was"
        sent = kinds(publisher, asked)
        assert sent[0] == "delivery_acknowledgement" and sent[-1] == "exception"
        assert [kind for kind in sent if kind in FINAL] == ["exception"]

        wait_until(lambda: runner.overrunning == 0)  # the app's thread woke up, ran to its end and sent nothing
        time.sleep(0.3)  # more than two heartbeat intervals
        assert kinds(publisher, asked) == sent
    finally:
        runner.close()


def test_a_question_at_its_time_limit_frees_its_slot_while_its_app_still_runs(answerer, publisher):
    runner = runner_of(answerer, max_concurrent_questions=1, question_timeout=0.5)
    try:
        stuck = runner.submit(question({"action": "sleep", "seconds": 3}))
        following = runner.submit(question({"action": "echo", "value": "next"}))
        answer = following.result(timeout=30).wait()
        assert answer.kind == "result" and answer.event["output_values"]["value"] == "next"
        assert runner.overrunning == 1, "the next question waited for the stuck app instead of its slot"
        assert stuck.result(timeout=1).wait().event["exception_type"] == "QuestionTimeLimitExceeded"
    finally:
        runner.close()


def test_questions_wait_for_a_slot_acknowledged_and_are_answered_in_turn(answerer, publisher):
    runner = runner_of(answerer, max_concurrent_questions=2, question_timeout=30)
    try:
        busy = [runner.submit(question({"action": "sleep", "seconds": 0.5})) for _ in range(2)]
        waiting = [question({"action": "echo", "value": number}) for number in range(3)]
        futures = [runner.submit(asked) for asked in waiting]
        assert runner.queued == 3
        for asked in waiting:  # accepted at once: the parent knows its question arrived while it waits
            assert kinds(publisher, asked)[:1] == ["delivery_acknowledgement"]
        answers = [future.result(timeout=30).wait() for future in busy + futures]
        assert [answer.kind for answer in answers] == ["result"] * 5
        for asked in waiting:  # and heartbeats kept it waiting while it queued (every 0.1 s, for 0.5 s)
            assert kinds(publisher, asked)[1] == "heartbeat"
        assert [answer.event["output_values"]["value"] for answer in answers[2:]] == [0, 1, 2]
    finally:
        runner.close(wait=True)


def test_a_full_queue_makes_submit_wait_until_a_slot_frees(answerer, publisher):
    runner = runner_of(answerer, max_concurrent_questions=1, max_queued_questions=1, question_timeout=30)
    try:
        first = runner.submit(question({"action": "sleep", "seconds": 1}))
        second = runner.submit(question({"action": "echo", "value": 2}))
        third: list = []
        submitting = threading.Thread(target=lambda: third.append(runner.submit(question({"action": "echo"}))))
        submitting.start()
        submitting.join(timeout=0.3)
        assert submitting.is_alive() and not first.done(), "a third question was taken while the queue was full"
        submitting.join(timeout=30)
        assert [future.result(timeout=30).wait().kind for future in (first, second, *third)] == ["result"] * 3
    finally:
        runner.close()


def test_a_slot_stays_taken_when_too_many_threads_overrun(answerer, publisher):
    runner = runner_of(answerer, max_concurrent_questions=1, question_timeout=0.3, max_overrunning_threads=0)
    try:
        stuck = runner.submit(question({"action": "sleep", "seconds": 1.5}))
        following = runner.submit(question({"action": "echo"}))
        assert stuck.result(timeout=30).wait().kind == "exception"
        assert following.result(timeout=30).wait().kind == "result"
        assert runner.overrunning == 0, "the slot was given away although no thread may overrun"
    finally:
        runner.close()


def test_run_and_expire_send_exactly_one_final_event(answerer, publisher):
    asked = question({"action": "echo"})
    accepted = answerer.accept(asked)
    assert kinds(publisher, asked) == ["delivery_acknowledgement"]
    assert accepted.expire(5).wait().event["exception_type"] == "QuestionTimeLimitExceeded"
    assert accepted.run() is None and accepted.expire(5) is None
    assert [kind for kind in kinds(publisher, asked) if kind in FINAL] == ["exception"]

    answered = question({"action": "echo"})
    accepted = answerer.accept(answered)
    assert accepted.run().wait().kind == "result"
    assert accepted.expire(5) is None
    assert [kind for kind in kinds(publisher, answered) if kind in FINAL] == ["result"]


SINKS: dict[str, MemoryPublisher] = {}


def memory_publisher(topic: str) -> MemoryPublisher:
    return SINKS.setdefault(topic, MemoryPublisher())


def test_the_answer_dofn_without_wait_does_not_hold_its_bundle_and_outputs_answers_in_later_bundles():
    config = WorkerConfig(
        service_dir=str(FIXTURES / "behaviours"), sruid=SRUID, project="in-memory",
        services_topic=f"projects/in-memory/topics/services.{time.monotonic_ns()}", heartbeat_interval=0,
        max_concurrent_questions=2, question_timeout=1,
    )
    dofn = _AnswerQuestion(ServiceWorkers(config, publisher_factory=memory_publisher), wait=False)
    dofn.setup()
    try:
        hanging = question({"action": "sleep", "seconds": 3})
        dofn.start_bundle()
        dofn.process(hanging)
        assert list(dofn.finish_bundle()) == [], "the bundle waited for its question"

        normal = question({"action": "echo", "value": "after"})
        dofn.start_bundle()
        dofn.process(normal)
        outputs = list(dofn.finish_bundle())
        deadline = time.monotonic() + 30
        while len(outputs) < 2 and time.monotonic() < deadline:  # later (empty) bundles output what finished
            time.sleep(0.05)
            dofn.start_bundle()
            outputs += list(dofn.finish_bundle())
        answers = {output.value.question_uuid: output.value for output in outputs}
        assert answers[normal.question_uuid].kind == "result"
        assert answers[hanging.question_uuid].event["exception_type"] == "QuestionTimeLimitExceeded"
        assert [output.value.question_uuid for output in outputs].index(normal.question_uuid) == 0
    finally:
        dofn._worker.close()
        dofn.teardown()


def test_the_time_limit_is_the_option_else_octue_yaml_else_one_hour(tmp_path):
    (tmp_path / "octue.yaml").write_text(
        "services:\n  - namespace: octue-beam-tests\n    name: limited\n    question_timeout: 7\n"
    )
    (tmp_path / "twine.json").write_text("{}")
    (tmp_path / "app.py").write_text("def run(analysis):\n    pass\n")
    sruid = "octue-beam-tests/limited:local"

    def limit(service_dir, **options):
        config = WorkerConfig(service_dir=str(service_dir), sruid=sruid if service_dir == tmp_path else SRUID,
                              project="in-memory", services_topic="projects/in-memory/topics/limits",
                              heartbeat_interval=0, **options)
        worker = ServiceWorker(config, publisher_factory=lambda topic: MemoryPublisher())
        try:
            return worker.runner.question_timeout
        finally:
            worker.close()

    assert limit(tmp_path) == 7
    assert limit(tmp_path, question_timeout=2.5) == 2.5
    assert limit(FIXTURES / "behaviours") == 3600


def test_questions_accepted_in_the_background_are_acknowledged_in_order_and_answered_once(answerer, publisher):
    """The local runner's DoFn leaves acceptance to the runner's accepting thread: each question is still
    acknowledged before its first heartbeat, a redelivery is dropped, and the questions run in the order given."""
    runner = runner_of(answerer, max_concurrent_questions=1, question_timeout=30)
    try:
        asked = [question({"action": "echo", "value": number}) for number in range(5)]
        futures = [runner.submit(each, accept_in_background=True) for each in asked]
        duplicate = runner.submit(asked[2], accept_in_background=True)
        answers = [future.result(timeout=30).wait() for future in futures]
        assert duplicate.result(timeout=30) is None
        assert [answer.event["output_values"]["value"] for answer in answers] == [0, 1, 2, 3, 4]
        for each in asked:
            sent = kinds(publisher, each)
            assert sent[0] == "delivery_acknowledgement"
            assert sum(kind in FINAL for kind in sent) == 1 and sent[-1] == "result"
    finally:
        runner.close(wait=True)


def test_closing_the_runner_still_accepts_the_questions_submitted_before(answerer, publisher):
    """A question submitted before `close` is acknowledged (so the journal of a local run knows it is in flight)."""
    runner = runner_of(answerer, max_concurrent_questions=1, question_timeout=30)
    asked = [question({"action": "sleep", "seconds": 0.2}) for _ in range(3)]
    for each in asked:
        runner.submit(each, accept_in_background=True)
    runner.close()
    with pytest.raises(RuntimeError):
        runner.submit(question({"action": "echo"}), accept_in_background=True)
    for each in asked:
        wait_until(lambda each=each: "delivery_acknowledgement" in kinds(publisher, each))


def test_a_thread_that_ends_a_question_runs_the_next_queued_one_within_that_ones_time_limit(
    answerer, publisher, monkeypatch
):
    """A busy runner does not start a thread per question: the thread whose question ended (its final event taken at
    once by the sink) runs the next queued one. Each of those still has its own time limit: one that overruns is ended
    at its limit, and the question after it is answered in a new thread while the old one runs on."""
    threads = threads_running_apps(answerer, monkeypatch)
    runner = runner_of(answerer, max_concurrent_questions=1, question_timeout=0.5)
    try:
        asked = [
            question({"action": "echo", "value": 0}),
            question({"action": "echo", "value": 1}),
            question({"action": "sleep", "seconds": 2}),
            question({"action": "echo", "value": 3}),
        ]
        futures = [runner.submit(each) for each in asked]
        answers = [future.result(timeout=30).wait() for future in futures]

        assert [answer.kind for answer in answers] == ["result", "result", "exception", "result"]
        assert answers[2].event["exception_type"] == "QuestionTimeLimitExceeded"
        assert [answers[index].event["output_values"]["value"] for index in (0, 1, 3)] == [0, 1, 3]
        assert runner.overrunning == 1, "the last question was not answered while the sleeping one overran"
        first, second, sleeping, last = (threads[each.question_uuid] for each in asked)
        assert first is second is sleeping, "the queued questions did not run in the thread that was free"
        assert last is not sleeping, "the question after the overrunning one waited for its thread"
        wait_until(lambda: runner.overrunning == 0)
        assert [kind for kind in kinds(publisher, asked[2]) if kind in FINAL] == ["exception"]
    finally:
        runner.close()


def test_a_thread_whose_answer_was_taken_waits_for_the_next_question_before_it_ends(answerer, monkeypatch):
    """A batch hands questions over one by one and the runner's threads often empty the queue between two of them:
    the thread whose answer the sink took at once waits a little for the next question (here for as long as the test
    needs) and runs it, instead of ending and a new thread being started; closing the runner ends it."""
    monkeypatch.setattr(runner_module, "IDLE_THREAD_SECONDS", 60.0)
    threads = threads_running_apps(answerer, monkeypatch)
    runner = runner_of(answerer, max_concurrent_questions=2, question_timeout=30)
    try:
        first, second = question({"action": "echo", "value": 0}), question({"action": "echo", "value": 1})
        assert runner.submit(first).result(timeout=30).wait().event["output_values"]["value"] == 0
        assert runner.submit(second).result(timeout=30).wait().event["output_values"]["value"] == 1
        assert threads[first.question_uuid] is threads[second.question_uuid], "a thread was started for the second"
    finally:
        runner.close()
    threads[first.question_uuid].join(timeout=10)
    assert not threads[first.question_uuid].is_alive(), "the waiting thread outlived the closed runner"


def test_a_question_left_to_idle_threads_wakes_one_of_them(answerer, monkeypatch):
    """Threads waiting for a next question are woken one per question queued, not all at once: in a batch, waking
    every idle thread for each question cost more than answering it."""
    monkeypatch.setattr(runner_module, "IDLE_THREAD_SECONDS", 60.0)
    threads = threads_running_apps(answerer, monkeypatch)
    runner = runner_of(answerer, max_concurrent_questions=4, question_timeout=30)
    looked = []  # the thread of every look at the queue
    take_next = runner._take_next

    def recording():
        entry = take_next()
        looked.append(threading.current_thread())
        return entry

    monkeypatch.setattr(runner, "_take_next", recording)
    try:
        firsts = [question({"action": "sleep", "seconds": 0.5}) for _ in range(4)]
        for pending in [runner.submit(asked) for asked in firsts]:
            pending.result(timeout=30).wait()
        idle = {threads[asked.question_uuid] for asked in firsts}
        assert len(idle) == 4, "the four questions did not run at once"
        wait_until(lambda: runner._idle == 4)
        looked.clear()
        last = question({"action": "echo", "value": 1})
        assert runner.submit(last).result(timeout=30).wait().event["output_values"]["value"] == 1
        woken = [thread for thread in looked if thread is not threads[last.question_uuid]]
        assert threads[last.question_uuid] in idle, "a thread was started although four were waiting"
        assert woken == [], f"{len(set(woken))} other idle threads were woken for one question"
    finally:
        runner.close()
    for thread in idle:
        thread.join(timeout=10)
