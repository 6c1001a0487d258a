"""The local event store: the recorder's window files (`events.files.WindowFiles`) and reading them back with
`read_events` and `octue_beam.get_events`, every selector and filter, pushed down to pyarrow."""

import datetime
import os

import pyarrow.parquet as pq
import pytest

import octue_beam
from octue_beam.events.files import WindowFiles
from octue_beam.events.filters import EventFilter
from octue_beam.events.rows import PARQUET_SCHEMA
from octue_beam.events.store import folder_filter, parse_store, read_events
from tests.events.wire_events import START, answered_tree

WINDOW = 10.0


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def window_of(row: dict) -> tuple[float, float]:
    start = row["datetime"].timestamp() // WINDOW * WINDOW
    return start, start + WINDOW


def store_of(tmp_path, stored_rows) -> str:
    """A store holding `stored_rows`, written by the recorder's writer (windows by the rows' own times)."""
    folder = str(tmp_path / "events")
    files = WindowFiles(folder, clock=Clock(START.timestamp() + 3600))
    for row in stored_rows:
        files.add(window_of(row), row)
    files.close()
    return folder


def parquet_files(folder):
    return sorted(os.path.relpath(os.path.join(root, name), folder) for root, _, names in os.walk(folder)
                  for name in names)


def test_a_window_is_written_once_it_has_ended_as_one_file_in_its_date_partition(tmp_path):
    tree, _, _ = answered_tree()
    clock = Clock(START.timestamp() + 5)  # inside the first window [09:30:00, 09:30:10)
    files = WindowFiles(str(tmp_path), shard="abc123", clock=clock)
    for row in tree.stored:
        files.add(window_of(row), row)
    assert files.flush() == [] and files.pending() == len(tree.stored)  # the window has not ended
    clock.now = START.timestamp() + WINDOW + 1
    written = files.flush()
    assert [os.path.relpath(path, tmp_path) for path in written] == [
        "date=2025-03-04/events-20250304T093000Z-20250304T093010Z-abc123-0.parquet"
    ]
    assert files.pending() == 0
    table = pq.read_table(written[0])
    assert table.schema.equals(PARQUET_SCHEMA, check_metadata=False)
    assert [field.metadata for field in table.schema] == [field.metadata for field in PARQUET_SCHEMA]
    assert table.to_pylist() == tree.stored


def test_rows_arriving_for_a_written_window_go_to_a_new_file_never_rewriting_one(tmp_path):
    tree, _, _ = answered_tree()
    clock = Clock(START.timestamp() + WINDOW + 1)
    files = WindowFiles(str(tmp_path), shard="abc123", clock=clock)
    window = window_of(tree.stored[0])
    files.add(window, tree.stored[0])
    first = files.flush()[0]
    before = (os.stat(first).st_mtime_ns, open(first, "rb").read())
    files.add(window, tree.stored[1])
    second = files.flush()[0]
    assert second.endswith("-abc123-1.parquet")
    assert (os.stat(first).st_mtime_ns, open(first, "rb").read()) == before
    assert pq.read_table(second).to_pylist() == [tree.stored[1]]
    assert not [name for name in os.listdir(os.path.dirname(first)) if name.startswith(".")]  # no temporary left


def test_close_writes_every_window_even_one_still_open(tmp_path):
    tree, _, _ = answered_tree()
    files = WindowFiles(str(tmp_path), clock=Clock(START.timestamp())).start()
    for row in tree.stored:
        files.add(window_of(row), row)
    written = files.close()
    assert len(written) == 1 and files.pending() == 0 and files.rows_written == len(tree.stored)


def test_each_selector_reads_back_its_questions_events(tmp_path):
    tree, root, child = answered_tree()
    store = store_of(tmp_path, tree.stored)
    everything = read_events(store)
    assert [row["uuid"] for row in everything] == [row["uuid"] for row in tree.stored]  # oldest first
    by_question = read_events(store, question_uuid=root["question_uuid"])
    assert {row["question_uuid"] for row in by_question} == {root["question_uuid"]}
    assert [row["kind"] for row in by_question] == [
        "question", "delivery_acknowledgement", "heartbeat", "log_record", "monitor_message", "result"
    ]
    children = read_events(store, parent_question_uuid=root["question_uuid"])
    assert {row["question_uuid"] for row in children} == {child["question_uuid"]}
    assert [row["kind"] for row in children] == ["question", "delivery_acknowledgement", "log_record", "result"]
    assert read_events(store, originator_question_uuid=root["question_uuid"]) == everything
    assert read_events(store, originator_question_uuid=child["question_uuid"]) == []


def test_kinds_since_and_limit_filter_the_rows(tmp_path):
    tree, root, child = answered_tree()
    store = store_of(tmp_path, tree.stored)
    results = read_events(store, originator_question_uuid=root["question_uuid"], kinds=["result"])
    assert [row["question_uuid"] for row in results] == [child["question_uuid"], root["question_uuid"]]
    no_noise = read_events(store, exclude_kinds=["heartbeat", "delivery_acknowledgement"])
    assert {row["kind"] for row in no_noise} == {"question", "log_record", "monitor_message", "result"}
    since = read_events(store, since=START + datetime.timedelta(seconds=1))
    assert [row["kind"] for row in since] == ["log_record", "monitor_message", "result"]
    assert read_events(store, since="2025-03-05") == []
    assert len(read_events(store, since="2025-03-04")) == len(tree.stored)
    newest = read_events(store, limit=2)
    assert [row["kind"] for row in newest] == ["monitor_message", "result"]
    oldest = read_events(store, limit=2, tail=False)
    assert [row["kind"] for row in oldest] == ["question", "delivery_acknowledgement"]


def test_the_filters_are_pushed_down_to_pyarrow_and_since_skips_earlier_days():
    chosen = EventFilter.of(
        question_uuid="0b1c2d3e-0000-4000-8000-000000000001", kinds=["result"], since="2025-03-04T10:00:00"
    )
    text = str(folder_filter(chosen))
    assert 'question_uuid == "0b1c2d3e-0000-4000-8000-000000000001"' in text
    assert 'is_in(kind' in text and 'date >= "2025-03-04"' in text and "datetime >=" in text
    assert folder_filter(EventFilter.of()) is None


def test_a_row_recorded_twice_is_read_once(tmp_path):
    tree, root, _ = answered_tree()
    store = store_of(tmp_path, tree.stored + [tree.stored[-1]])
    rows = read_events(store, question_uuid=root["question_uuid"], kinds=["result"])
    assert len(rows) == 1


@pytest.mark.parametrize(
    "filters, message",
    [
        ({"question_uuid": "not-a-uuid"}, "question_uuid must be a UUID"),
        ({"kinds": ["result"], "exclude_kinds": ["heartbeat"]}, "not both"),
        ({"kinds": ["reslut"]}, "unknown event kind"),
        ({"limit": 0}, "limit must be a whole number of at least 1"),
        ({"since": "last week"}, "since must be a date or time in ISO 8601 form"),
    ],
)
def test_bad_filters_are_refused_naming_them(tmp_path, filters, message):
    with pytest.raises(ValueError, match=message):
        read_events(str(tmp_path), **filters)


def test_a_missing_store_says_how_to_record_one(tmp_path):
    with pytest.raises(FileNotFoundError, match="record-events --store"):
        read_events(str(tmp_path / "nowhere"))


def test_the_store_rule_bigquery_prefix_or_a_folder():
    table = "my-project.octue_twined.service-events"
    assert parse_store(f"bigquery:{table}").table == table
    assert parse_store("some/folder").folder == "some/folder"
    assert parse_store(None).folder == os.path.join(".octue-beam", "events")
    with pytest.raises(ValueError, match="names no table"):
        parse_store("bigquery:")


def test_get_events_reads_a_store_in_octues_form(tmp_path):
    tree, root, _ = answered_tree()
    store = store_of(tmp_path, tree.stored)
    events = octue_beam.get_events(originator_question_uuid=root["question_uuid"], store=store, kinds=["question"])
    assert len(events) == 2
    assert events[0]["event"] == {"kind": "question", "input_values": {"n": 3}}
    assert events[0]["attributes"]["retry_count"] == 0
    assert set(events[0]) == {"event", "attributes"}
    with_metadata = octue_beam.get_events(root["question_uuid"], store=store, include_backend_metadata=True)
    assert with_metadata[0]["backend"] == "GoogleCloudPubSub"


def test_get_events_of_only_a_question_uuid_is_still_an_asynchronous_questions():
    with pytest.raises(KeyError, match="was not asked asynchronously in this process"):
        octue_beam.get_events("0b1c2d3e-0000-4000-8000-000000000001")
