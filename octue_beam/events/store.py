"""Reading events back from an event store: a local folder of Parquet files or a BigQuery table.

`read_events(store, ...)` returns rows (dicts with the columns of docs/protocol.md, `rows.read_row`), oldest first,
each event once (a message recorded twice, e.g. delivered again, is kept once: rows are unique by event `uuid`).

Where the store is (`parse_store`): `bigquery:PROJECT.DATASET.TABLE` (or `bigquery:DATASET.TABLE`, in the
client's project) is a BigQuery table; anything else is a local folder (`DEFAULT_STORE`, `.octue-beam/events` in
the current folder, unless given). Filters are pushed down to the store: `pyarrow.dataset` filters on the local
files (the `date=YYYY-MM-DD` folders outside `since` are not even opened), parameterised SQL on BigQuery
(`events.bigquery`, imported only when a table is read: it loads the BigQuery client).
"""

import dataclasses
import os
from collections.abc import Iterable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from octue_beam.events.filters import EventFilter
from octue_beam.events.rows import COLUMNS, PARQUET_SCHEMA, read_row

#: The store `record-events`, `run --record-events` (without a folder) and the readers use by default.
DEFAULT_STORE = os.path.join(".octue-beam", "events")
BIGQUERY_PREFIX = "bigquery:"
#: The hive partition of a local store: a folder `date=YYYY-MM-DD` per UTC day.
PARTITION = "date"
PARTITIONING = ds.partitioning(pa.schema([(PARTITION, pa.string())]), flavor="hive")


@dataclasses.dataclass(frozen=True)
class StoreLocation:
    """Where an event store is: a local `folder`, or a BigQuery `table` (`PROJECT.DATASET.TABLE` or
    `DATASET.TABLE`)."""

    folder: str | None = None
    table: str | None = None

    def __str__(self) -> str:
        return f"{BIGQUERY_PREFIX}{self.table}" if self.table else str(self.folder)


def parse_store(store: str | os.PathLike | None) -> StoreLocation:
    """`bigquery:<table id>` is a BigQuery table, anything else a local folder; None is `DEFAULT_STORE`."""
    if store is None:
        return StoreLocation(folder=DEFAULT_STORE)
    text = os.fspath(store)
    if text.startswith(BIGQUERY_PREFIX):
        table = text[len(BIGQUERY_PREFIX):]
        if not table:
            raise ValueError(f"The store {text!r} names no table: write bigquery:PROJECT.DATASET.TABLE.")
        return StoreLocation(table=table)
    if not text:
        raise ValueError("The store is empty: give a folder, or bigquery:PROJECT.DATASET.TABLE.")
    return StoreLocation(folder=text)


def read_events(
    store: str | os.PathLike | None,
    *,
    question_uuid: str | None = None,
    parent_question_uuid: str | None = None,
    originator_question_uuid: str | None = None,
    kinds: Iterable[str] | None = None,
    exclude_kinds: Iterable[str] | None = None,
    since: Any = None,
    limit: int | None = None,
    tail: bool = True,
    client: Any = None,
) -> list[dict[str, Any]]:
    """The rows of `store` (a folder, or `bigquery:PROJECT.DATASET.TABLE`) that pass every filter given, oldest
    first (see `events.filters`); `client` is the `google.cloud.bigquery.Client` to query a table with (default: one
    for the table's project with the environment's credentials). Raises FileNotFoundError for a folder that does
    not exist and ValueError for a bad filter."""
    location = parse_store(store)
    chosen = EventFilter.of(
        question_uuid=question_uuid,
        parent_question_uuid=parent_question_uuid,
        originator_question_uuid=originator_question_uuid,
        kinds=kinds,
        exclude_kinds=exclude_kinds,
        since=since,
        limit=limit,
        tail=tail,
    )
    if location.table:
        # Imported here: the BigQuery client is heavy and only reading a table needs it.
        from octue_beam.events import bigquery

        stored = bigquery.query_rows(location.table, chosen, client)
    else:
        stored = read_folder(location.folder, chosen)
    return unique_rows(read_row(row) for row in stored)


def read_folder(folder: str | os.PathLike, chosen: EventFilter) -> list[dict[str, Any]]:
    """The stored rows (JSON columns as text) of a local store that pass `chosen`, oldest first."""
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise FileNotFoundError(
            f"There is no event store at {os.path.abspath(folder)!r}: record one with `python -m octue_beam "
            f"record-events --store {folder}` (or `run --record-events {folder}`), or give another folder."
        )
    dataset = ds.dataset(
        folder, schema=PARQUET_SCHEMA.append(pa.field(PARTITION, pa.string())), format="parquet",
        partitioning=PARTITIONING,
    )
    table = dataset.to_table(columns=list(COLUMNS), filter=folder_filter(chosen))
    table = table.take(pc.sort_indices(table, sort_keys=[("datetime", "ascending")]))
    if chosen.limit is not None and table.num_rows > chosen.limit:
        start = table.num_rows - chosen.limit if chosen.tail else 0
        table = table.slice(start, chosen.limit)
    return table.to_pylist()


def folder_filter(chosen: EventFilter) -> ds.Expression | None:
    """The `pyarrow.dataset` expression of `chosen` (None when it keeps everything); `since` also skips the
    partitions of earlier days."""
    conditions = [ds.field(column) == value for column, value in chosen.selectors.items()]
    if chosen.kinds is not None:
        conditions.append(ds.field("kind").isin(list(chosen.kinds)))
    if chosen.exclude_kinds is not None:
        conditions.append(~ds.field("kind").isin(list(chosen.exclude_kinds)))
    if chosen.since is not None:
        conditions.append(ds.field(PARTITION) >= chosen.since.date().isoformat())
        conditions.append(ds.field("datetime") >= pa.scalar(chosen.since, type=PARQUET_SCHEMA.field("datetime").type))
    if not conditions:
        return None
    expression = conditions[0]
    for condition in conditions[1:]:
        expression = expression & condition
    return expression


def unique_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows with each event `uuid` once (the first), in their order."""
    seen: set[str] = set()
    unique = []
    for row in rows:
        if row["uuid"] in seen:
            continue
        seen.add(row["uuid"])
        unique.append(row)
    return unique
