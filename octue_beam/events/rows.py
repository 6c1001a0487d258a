"""The event-store row: one Pub/Sub message of the services topic as the columns of docs/protocol.md ("Event store
row"), the same in the Parquet files of a local store and in a BigQuery table.

`event_row(data, attributes, message_id, publish_time, ordering_key)` makes the row the recorder writes: the JSON
columns (`event` without its `kind`, `other_attributes`, `backend_metadata`) hold JSON text and `datetime` is an
aware UTC datetime. `read_row(stored)` turns a stored row back into what readers get: the JSON columns parsed, the
`kind` put back into `event`. `as_event(row)` gives Octue's `{"event", "attributes"}` form of a row.

The schemas match the Terraform definition of Octue's `service-events` table: the same columns, types and modes
(every column REQUIRED but `parent_question_uuid`), so the recorder can also write into an existing Octue event
store. Parquet has no JSON type: the JSON columns are strings whose field metadata says `{"type": "JSON"}`
(`JSON_COLUMNS`), mapped to BigQuery's JSON type.
"""

import datetime
import json
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from octue_beam.messaging.attributes import decode_attributes

BACKEND = "GoogleCloudPubSub"

#: The row's columns, in the order of docs/protocol.md.
COLUMNS = (
    "datetime",
    "uuid",
    "kind",
    "event",
    "other_attributes",
    "parent",
    "originator",
    "sender",
    "sender_type",
    "sender_sdk_version",
    "recipient",
    "question_uuid",
    "parent_question_uuid",
    "originator_question_uuid",
    "backend",
    "backend_metadata",
)

#: Columns holding JSON text (JSON in BigQuery, strings with `{"type": "JSON"}` metadata in Parquet).
JSON_COLUMNS = ("event", "other_attributes", "backend_metadata")

#: The only column that may be empty: an originator question has no parent question.
NULLABLE_COLUMNS = ("parent_question_uuid",)

#: Columns copied from the message's attributes (`datetime` too, parsed); the other attributes go to
#: `other_attributes` (`retry_count`, `forward_logs`, `save_diagnostics`, `cpus`, ...).
ATTRIBUTE_COLUMNS = (
    "datetime",
    "uuid",
    "parent",
    "originator",
    "sender",
    "sender_type",
    "sender_sdk_version",
    "recipient",
    "question_uuid",
    "parent_question_uuid",
    "originator_question_uuid",
)

_JSON_METADATA = {b"type": b"JSON"}


def _arrow_field(name: str) -> pa.Field:
    if name == "datetime":
        kind = pa.timestamp("us", tz="UTC")
    else:
        kind = pa.string()
    metadata = _JSON_METADATA if name in JSON_COLUMNS else None
    return pa.field(name, kind, nullable=name in NULLABLE_COLUMNS, metadata=metadata)


#: The Parquet (Arrow) schema of a local store's files.
PARQUET_SCHEMA: pa.Schema = pa.schema([_arrow_field(name) for name in COLUMNS])


def _bigquery_field(name: str) -> dict[str, str]:
    kind = "TIMESTAMP" if name == "datetime" else "JSON" if name in JSON_COLUMNS else "STRING"
    return {"name": name, "type": kind, "mode": "NULLABLE" if name in NULLABLE_COLUMNS else "REQUIRED"}


#: The BigQuery table schema (the REST API's `TableFieldSchema` dicts, which `WriteToBigQuery` accepts as
#: `{"fields": BIGQUERY_SCHEMA}`), column for column the Parquet one.
BIGQUERY_SCHEMA: list[dict[str, str]] = [_bigquery_field(name) for name in COLUMNS]

#: Attributes a message must carry to be a row (`datetime` falls back to the message's publish time).
REQUIRED_ATTRIBUTES = tuple(
    name for name in ATTRIBUTE_COLUMNS if name not in NULLABLE_COLUMNS and name != "datetime"
)


class UnrecordableMessage(ValueError):
    """A message on the services topic that is not an event (not a JSON object with a `kind`, or missing an
    attribute every row needs); the recorder logs and counts it instead of writing a row."""


def event_row(
    data: bytes,
    attributes: Mapping[str, str],
    message_id: str,
    publish_time: Any,
    ordering_key: str = "",
) -> dict[str, Any]:
    """The event-store row of one message (`data` and its string `attributes`, as published), with the message's
    Pub/Sub `message_id`, `publish_time` (a datetime, used when the attributes have no `datetime`) and
    `ordering_key` ("" or None when it had none). Raises UnrecordableMessage saying what is wrong."""
    try:
        event = json.loads(data)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise UnrecordableMessage(f"message {message_id}: its data is not JSON") from None
    if not isinstance(event, dict) or not isinstance(event.get("kind"), str) or not event["kind"]:
        raise UnrecordableMessage(f"message {message_id}: its data is not a JSON object with a 'kind'")
    missing = [name for name in REQUIRED_ATTRIBUTES if not attributes.get(name)]
    if missing:
        raise UnrecordableMessage(f"message {message_id} ({event['kind']}) lacks the attribute(s) {', '.join(missing)}")
    body = dict(event)
    kind = body.pop("kind")
    other = {name: value for name, value in attributes.items() if name not in ATTRIBUTE_COLUMNS}
    row = {name: attributes.get(name) for name in ATTRIBUTE_COLUMNS}
    row.update(
        datetime=_row_datetime(attributes.get("datetime"), publish_time, message_id),
        kind=kind,
        event=_json(body),
        other_attributes=_json(other),
        parent_question_uuid=attributes.get("parent_question_uuid") or None,
        backend=BACKEND,
        backend_metadata=_json({"message_id": message_id, "ordering_key": ordering_key or None}),
    )
    return {name: row[name] for name in COLUMNS}


def read_row(stored: Mapping[str, Any]) -> dict[str, Any]:
    """A row as readers get it: the JSON columns parsed (a BigQuery client may have parsed them already), `kind`
    back in `event`, `datetime` an aware UTC datetime, and Octue's `"null"` parent question UUID as None."""
    row = {name: stored.get(name) for name in COLUMNS}
    for name in JSON_COLUMNS:
        value = row[name]
        if isinstance(value, (str, bytes)):
            row[name] = json.loads(value)
        elif value is None:
            row[name] = {}
    row["event"] = {"kind": row["kind"], **dict(row["event"])}
    row["datetime"] = utc(row["datetime"])
    if row["parent_question_uuid"] in ("", "null"):
        row["parent_question_uuid"] = None
    return row


def as_event(row: Mapping[str, Any], include_backend_metadata: bool = False) -> dict[str, Any]:
    """Octue's form of a row read back (`read_row`): `{"event": {...}, "attributes": {...}}`, the attributes typed
    as on the wire (`retry_count` an integer, `forward_logs` a boolean), with `backend` and `backend_metadata` when
    asked for."""
    attributes: dict[str, Any] = {name: row.get(name) for name in ATTRIBUTE_COLUMNS if row.get(name) is not None}
    attributes["datetime"] = utc(row["datetime"]).replace(tzinfo=None).isoformat()
    other = {name: str(value) for name, value in (row.get("other_attributes") or {}).items()}
    try:
        attributes.update(decode_attributes(other))
    except ValueError:  # a malformed attribute stays as it was recorded
        attributes.update(other)
    event: dict[str, Any] = {"event": dict(row["event"]), "attributes": attributes}
    if include_backend_metadata:
        event["backend"] = row.get("backend")
        event["backend_metadata"] = row.get("backend_metadata")
    return event


def json_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row read back as plain JSON types (the datetime as ISO 8601), e.g. for `events get`."""
    return {**row, "datetime": utc(row["datetime"]).isoformat()}


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _row_datetime(value: str | None, publish_time: Any, message_id: str) -> datetime.datetime:
    if value:
        try:
            return utc(value)
        except ValueError:
            raise UnrecordableMessage(f"message {message_id}: its datetime {value!r} is not ISO 8601") from None
    if publish_time is None:
        raise UnrecordableMessage(f"message {message_id} has neither a datetime attribute nor a publish time")
    return utc(publish_time)


def utc(value: Any) -> datetime.datetime:
    """An aware UTC datetime from a datetime (naive ones are UTC, as the wire's are), an ISO 8601 string or a Beam
    `Timestamp` (anything with `to_utc_datetime`)."""
    if hasattr(value, "to_utc_datetime"):
        value = value.to_utc_datetime()
    if isinstance(value, str):
        value = datetime.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if not isinstance(value, datetime.datetime):
        raise ValueError(f"not a time: {value!r}")
    if value.tzinfo is None:
        return value.replace(tzinfo=datetime.timezone.utc)
    return value.astimezone(datetime.timezone.utc)
