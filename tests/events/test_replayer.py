"""`EventReplayer`: recorded events played back as `ask` handles them live (logs re-emitted with the service's
prefix, monitor messages handed over, the answer returned, the service's exception raised)."""

import logging

import pytest

import octue_beam
from octue_beam.events.rows import as_event, read_row
from octue_beam.messaging import events
from tests.events.wire_events import CHILD, SERVICE, Tree, answered_tree, log_event


def rows_of(tree):
    return [read_row(row) for row in tree.stored]


def test_a_question_is_replayed_with_its_logs_and_monitor_messages_and_answer(caplog):
    tree, root, child = answered_tree()
    monitor_messages = []
    replayer = octue_beam.EventReplayer(handle_monitor_message=monitor_messages.append)
    with caplog.at_level(logging.INFO):
        answer = replayer.play(rows_of(tree))
    assert answer == {"output_values": {"sum": 5, "tags": {"a"}}, "output_manifest": None}
    assert monitor_messages == [{"progress": 0.5}]
    messages = [record.getMessage() for record in caplog.records]
    assert f"[{SERVICE} | {root['question_uuid']}] parent got the child's answer" in messages
    assert f"{SERVICE} received question {root['question_uuid']}." in messages
    # The root question is played, not its child's events (the parent forwards what matters of those).
    assert not any("child working" in message for message in messages)
    assert [item["event"]["kind"] for item in replayer.received_events] == [
        "question", "delivery_acknowledgement", "heartbeat", "log_record", "monitor_message", "result"
    ]


def test_a_chosen_question_of_a_tree_is_replayed():
    tree, _, child = answered_tree()
    answer = octue_beam.EventReplayer().play(rows_of(tree), question_uuid=child["question_uuid"])
    assert answer["output_values"] == {"m": 2}


def test_octues_event_form_replays_too():
    tree, _, _ = answered_tree()
    items = [as_event(row) for row in rows_of(tree)]
    assert octue_beam.EventReplayer().handle_events(items)["output_values"]["sum"] == 5


def test_an_exception_is_raised_as_ask_raises_it():
    tree = Tree()
    question = tree.ask(0)
    tree.respond(question, 1, events.exception(ValueError("the app crashed")))
    with pytest.raises(ValueError, match="the app crashed") as raised:
        octue_beam.EventReplayer().play(rows_of(tree))
    assert raised.value.remote_type == "ValueError"


def test_only_the_last_attempt_of_a_retried_question_is_played(caplog):
    tree = Tree()
    first = tree.ask(0)
    tree.respond(first, 1, events.exception(RuntimeError("flaky")))
    second = tree.ask(2, question_uuid=first["question_uuid"], retry_count=1)
    tree.respond(second, 3, events.result(output_values="fine"))
    with caplog.at_level(logging.INFO):
        answer = octue_beam.EventReplayer().play(rows_of(tree))
    assert answer["output_values"] == "fine"
    assert f"Attempt 1 of question {first['question_uuid']} ended with RuntimeError and was retried." in caplog.text


def test_events_without_a_result_replay_to_none_with_a_warning(caplog):
    tree = Tree()
    question = tree.ask(0)
    tree.respond(question, 1, events.delivery_acknowledgement())
    with caplog.at_level(logging.WARNING):
        assert octue_beam.EventReplayer().play(rows_of(tree)) is None
    assert f"No result was found for question {question['question_uuid']}." in caplog.text


def test_with_a_speed_it_waits_as_the_events_were_apart():
    tree = Tree()
    question = tree.ask(0)
    tree.respond(question, 2, events.heartbeat())
    tree.respond(question, 2.5, log_event("done soon"))
    tree.respond(question, 100, events.result(output_values=1))
    waits = []
    octue_beam.EventReplayer(speed=2, sleep=waits.append).play(rows_of(tree))
    assert waits == [1.0, 0.25, 5.0]  # gaps halved; a long gap waits at most 5 s
    waits.clear()
    octue_beam.EventReplayer(sleep=waits.append).play(rows_of(tree))
    assert waits == []


def test_only_handle_result_and_excluded_logs_are_skipped(caplog):
    tree = Tree()
    question = tree.ask(0, recipient=CHILD)
    tree.respond(question, 1, log_event("noisy line"))
    tree.respond(question, 2, log_event("useful line"))
    tree.respond(question, 3, events.monitor_message({"p": 1}))
    tree.respond(question, 4, events.result(output_values=2))
    handled = []
    with caplog.at_level(logging.INFO):
        octue_beam.EventReplayer(handle_monitor_message=handled.append, exclude_logs_containing="noisy").play(
            rows_of(tree)
        )
    assert "useful line" in caplog.text and "noisy line" not in caplog.text
    caplog.clear()
    handled.clear()
    with caplog.at_level(logging.INFO):
        octue_beam.EventReplayer(handle_monitor_message=handled.append, only_handle_result=True).play(rows_of(tree))
    assert "useful line" not in caplog.text and handled == []


def test_something_that_is_not_an_event_is_refused():
    with pytest.raises(ValueError, match="Not an event to replay"):
        octue_beam.EventReplayer().play([{"event": "nothing"}])
