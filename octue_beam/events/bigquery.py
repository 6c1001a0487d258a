"""Reading an event store in BigQuery with parameterised SQL: every value travels as a query parameter
(`@question_uuid`, `@kinds`, `@since`, `@limit`), never inside the query text. The table's name cannot be a
parameter: it is checked against `TABLE_ID` (letters, digits, `_` and `-` only) and quoted as an identifier.

This module imports the BigQuery client, which is heavy: `events.store` imports it only when a table is read.
"""

import re
from typing import Any

from google.cloud import bigquery

from octue_beam.events.filters import EventFilter
from octue_beam.events.rows import COLUMNS

#: `[PROJECT.]DATASET.TABLE` (the project may be domain-scoped, `example.com:my-project`, and separated by `:`).
TABLE_ID = re.compile(
    r"(?:(?P<project>(?:[a-z0-9.-]+:)?[a-z][a-z0-9-]{4,28}[a-z0-9])[.:])?(?P<dataset>[A-Za-z0-9_]{1,1024})"
    r"\.(?P<table>[A-Za-z0-9_-]{1,1024})"
)


def parse_table_id(table_id: str) -> tuple[str | None, str, str]:
    """`(project or None, dataset, table)` of `PROJECT.DATASET.TABLE`, `PROJECT:DATASET.TABLE` or `DATASET.TABLE`;
    ValueError for anything else."""
    match = TABLE_ID.fullmatch(table_id or "")
    if match is None:
        raise ValueError(
            f"{table_id!r} is not a BigQuery table id: write PROJECT.DATASET.TABLE or DATASET.TABLE (letters, digits, "
            "'_' and '-' only)."
        )
    return match.group("project"), match.group("dataset"), match.group("table")


def build_query(table_id: str, chosen: EventFilter, default_project: str | None = None) -> tuple[str, list[Any]]:
    """The SQL text and its query parameters for the rows of `table_id` that pass `chosen`, oldest first."""
    project, dataset, table = parse_table_id(table_id)
    project = project or default_project
    name = ".".join(part for part in (project, dataset, table) if part)
    columns = ", ".join(f"`{column}`" for column in COLUMNS)
    conditions: list[str] = []
    parameters: list[Any] = []
    for column, value in chosen.selectors.items():
        conditions.append(f"`{column}` = @{column}")
        parameters.append(bigquery.ScalarQueryParameter(column, "STRING", value))
    if chosen.kinds is not None:
        conditions.append("`kind` IN UNNEST(@kinds)")
        parameters.append(bigquery.ArrayQueryParameter("kinds", "STRING", list(chosen.kinds)))
    if chosen.exclude_kinds is not None:
        conditions.append("`kind` NOT IN UNNEST(@exclude_kinds)")
        parameters.append(bigquery.ArrayQueryParameter("exclude_kinds", "STRING", list(chosen.exclude_kinds)))
    if chosen.since is not None:
        conditions.append("`datetime` >= @since")
        parameters.append(bigquery.ScalarQueryParameter("since", "TIMESTAMP", chosen.since))
    query = f"SELECT {columns} FROM `{name}`"
    if conditions:
        query += "\nWHERE " + "\nAND ".join(conditions)
    if chosen.limit is None:
        return query + "\nORDER BY `datetime` ASC", parameters
    parameters.append(bigquery.ScalarQueryParameter("limit", "INT64", chosen.limit))
    if not chosen.tail:
        return query + "\nORDER BY `datetime` ASC\nLIMIT @limit", parameters
    # The newest `limit` rows, returned oldest first.
    return f"SELECT * FROM (\n{query}\nORDER BY `datetime` DESC\nLIMIT @limit\n)\nORDER BY `datetime` ASC", parameters


def query_rows(table_id: str, chosen: EventFilter, client: bigquery.Client | None = None) -> list[dict[str, Any]]:
    """The stored rows of `table_id` that pass `chosen`, oldest first; `client` defaults to one for the table's
    project (else the environment's) with the environment's credentials."""
    project, _, _ = parse_table_id(table_id)
    if client is None:
        client = bigquery.Client(project=project)
    query, parameters = build_query(table_id, chosen, client.project)
    results = client.query_and_wait(query, job_config=bigquery.QueryJobConfig(query_parameters=parameters))
    return [dict(row.items()) for row in results]
