"""The event-store row (docs/protocol.md, "Event store row"): what the recorder makes of each message, what readers
get back, and the two schemas (Parquet and BigQuery) against each other and against Octue's table."""

import datetime
import json

import pyarrow as pa
import pytest

from octue_beam.events.rows import (
    BIGQUERY_SCHEMA,
    COLUMNS,
    PARQUET_SCHEMA,
    UnrecordableMessage,
    as_event,
    event_row,
    read_row,
)
from octue_beam.messaging import events
from tests.events.wire_events import CLIENT, SERVICE, Tree, stored_json

#: Octue's `service-events` table, as its Terraform defines it: column -> (type, mode).
OCTUE_TABLE = {
    "datetime": ("TIMESTAMP", "REQUIRED"),
    "uuid": ("STRING", "REQUIRED"),
    "kind": ("STRING", "REQUIRED"),
    "event": ("JSON", "REQUIRED"),
    "other_attributes": ("JSON", "REQUIRED"),
    "originator": ("STRING", "REQUIRED"),
    "parent": ("STRING", "REQUIRED"),
    "sender": ("STRING", "REQUIRED"),
    "sender_type": ("STRING", "REQUIRED"),
    "sender_sdk_version": ("STRING", "REQUIRED"),
    "recipient": ("STRING", "REQUIRED"),
    "originator_question_uuid": ("STRING", "REQUIRED"),
    "parent_question_uuid": ("STRING", "NULLABLE"),
    "question_uuid": ("STRING", "REQUIRED"),
    "backend": ("STRING", "REQUIRED"),
    "backend_metadata": ("JSON", "REQUIRED"),
}
#: The order of docs/protocol.md.
PROTOCOL_ORDER = (
    "datetime", "uuid", "kind", "event", "other_attributes", "parent", "originator", "sender", "sender_type",
    "sender_sdk_version", "recipient", "question_uuid", "parent_question_uuid", "originator_question_uuid", "backend",
    "backend_metadata",
)


def bigquery_type_of(field: pa.Field) -> tuple[str, str]:
    """How a Parquet column is stored in BigQuery (timestamps, JSON-tagged strings, strings)."""
    if field.type == pa.timestamp("us", tz="UTC"):
        kind = "TIMESTAMP"
    elif field.type == pa.string():
        kind = "JSON" if (field.metadata or {}).get(b"type") == b"JSON" else "STRING"
    else:
        raise AssertionError(f"{field.name} has the type {field.type}, which has no BigQuery column type here")
    return kind, "NULLABLE" if field.nullable else "REQUIRED"


def test_the_columns_are_those_of_the_protocol_in_its_order():
    assert COLUMNS == PROTOCOL_ORDER
    assert PARQUET_SCHEMA.names == list(PROTOCOL_ORDER)
    assert [field["name"] for field in BIGQUERY_SCHEMA] == list(PROTOCOL_ORDER)


def test_the_bigquery_schema_matches_the_parquet_one_column_for_column():
    for field, column in zip(PARQUET_SCHEMA, BIGQUERY_SCHEMA, strict=True):
        assert field.name == column["name"]
        assert bigquery_type_of(field) == (column["type"], column["mode"]), field.name


def test_both_schemas_match_octues_table_so_the_recorder_can_write_into_it():
    assert {column["name"]: (column["type"], column["mode"]) for column in BIGQUERY_SCHEMA} == OCTUE_TABLE
    assert {field.name: bigquery_type_of(field) for field in PARQUET_SCHEMA} == OCTUE_TABLE


def test_a_question_becomes_a_row_with_every_column():
    tree = Tree()
    question = tree.ask(0, input_values={"n": 3})
    data, attributes, message_id, _ = tree.published[0]
    row = tree.stored[0]

    assert list(row) == list(COLUMNS)
    assert row["datetime"] == datetime.datetime(2025, 3, 4, 9, 30, tzinfo=datetime.timezone.utc)
    assert row["kind"] == "question"
    assert stored_json(row, "event") == {"input_values": {"n": 3}}  # the event without its kind
    assert stored_json(row, "other_attributes") == {
        "retry_count": "0", "forward_logs": "1", "save_diagnostics": "SAVE_DIAGNOSTICS_ON_CRASH"
    }
    assert (row["sender"], row["sender_type"], row["recipient"]) == (CLIENT, "PARENT", SERVICE)
    assert (row["parent"], row["originator"]) == (CLIENT, CLIENT)
    assert row["question_uuid"] == row["originator_question_uuid"] == question["question_uuid"]
    assert row["parent_question_uuid"] is None
    assert row["uuid"] == attributes["uuid"]
    assert row["sender_sdk_version"] == "0.1.0"
    assert row["backend"] == "GoogleCloudPubSub"
    assert stored_json(row, "backend_metadata") == {"message_id": message_id, "ordering_key": None}
    pa.Table.from_pylist([row], schema=PARQUET_SCHEMA)  # fits the files' schema


def test_a_response_keeps_its_ordering_key_and_the_question_tree():
    tree = Tree()
    question = tree.ask(0)
    tree.respond(question, 1, events.result(output_values=[1, 2]))
    row = tree.stored[1]
    key = tree.published[1][3]
    assert key.startswith("octue-beam.")
    assert stored_json(row, "backend_metadata")["ordering_key"] == key
    assert (row["sender"], row["sender_type"], row["recipient"]) == (SERVICE, "CHILD", CLIENT)
    assert row["question_uuid"] == question["question_uuid"]
    assert stored_json(row, "other_attributes") == {"retry_count": "0"}


def test_a_row_read_back_has_its_json_parsed_and_its_kind_in_the_event():
    tree = Tree()
    question = tree.ask(0, input_values={"n": 3})
    row = read_row(tree.stored[0])
    assert row["event"] == {"kind": "question", "input_values": {"n": 3}}
    assert row["other_attributes"]["retry_count"] == "0"
    assert row["backend_metadata"]["message_id"] == tree.published[0][2]
    octue_form = as_event(row, include_backend_metadata=True)
    assert octue_form["event"] == {"kind": "question", "input_values": {"n": 3}}
    attributes = octue_form["attributes"]
    assert attributes["retry_count"] == 0 and attributes["forward_logs"] is True  # typed, as Octue's reader gives
    assert attributes["question_uuid"] == question["question_uuid"]
    assert attributes["datetime"] == "2025-03-04T09:30:00"
    assert "parent_question_uuid" not in attributes  # omitted, as on the wire
    assert octue_form["backend"] == "GoogleCloudPubSub"


def test_octues_null_parent_question_uuid_reads_as_none():
    tree = Tree()
    tree.ask(0)
    stored = {**tree.stored[0], "parent_question_uuid": "null"}
    assert read_row(stored)["parent_question_uuid"] is None


def test_the_datetime_falls_back_to_the_publish_time():
    tree = Tree()
    tree.ask(0)
    data, attributes, _, _ = tree.published[0]
    attributes = {name: value for name, value in attributes.items() if name != "datetime"}
    published = datetime.datetime(2025, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    assert event_row(data, attributes, "9", published)["datetime"] == published


@pytest.mark.parametrize(
    "data, drop, reason",
    [
        (b"not json", None, "its data is not JSON"),
        (b"[1, 2]", None, "not a JSON object with a 'kind'"),
        (b'{"input_values": 1}', None, "not a JSON object with a 'kind'"),
        (None, "sender", "lacks the attribute(s) sender"),
        (None, "question_uuid", "lacks the attribute(s) question_uuid"),
    ],
)
def test_a_message_that_is_not_an_event_is_unrecordable_saying_why(data, drop, reason):
    tree = Tree()
    tree.ask(0)
    wire_data, attributes, _, _ = tree.published[0]
    attributes = {name: value for name, value in attributes.items() if name != drop}
    with pytest.raises(UnrecordableMessage, match=reason.replace("(", r"\(").replace(")", r"\)")):
        event_row(data or wire_data, attributes, "7", None)


def test_a_datetime_attribute_that_is_not_a_time_is_unrecordable():
    tree = Tree()
    tree.ask(0)
    data, attributes, _, _ = tree.published[0]
    with pytest.raises(UnrecordableMessage, match="is not ISO 8601"):
        event_row(data, {**attributes, "datetime": "yesterday"}, "7", None)


def test_every_json_column_holds_compact_json_text():
    tree = Tree()
    tree.ask(0, input_values={"text": "héllo"})
    row = tree.stored[0]
    for column in ("event", "other_attributes", "backend_metadata"):
        assert isinstance(row[column], str)
        assert json.loads(row[column]) is not None
    assert "héllo" in row["event"]
