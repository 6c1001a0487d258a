"""`octue_beam.get_events`: a question's events, from this process (an asynchronous question) or from an event store.

`get_events(question_uuid)` alone is the events of a question asked asynchronously in this process
(`asking.asynchronous.get_events`, as before the event store existed). With `store=` or `table_id=` (Octue's
name: a BigQuery table id), or with any other selector or filter, the events are read from the event store
(`events.store.read_events`; the default store is `.octue-beam/events` in the current folder) and returned in
Octue's form, `{"event": {...}, "attributes": {...}}`, oldest first.
"""

from collections.abc import Iterable
from typing import Any

from octue_beam.asking import asynchronous
from octue_beam.events.rows import as_event
from octue_beam.events.store import BIGQUERY_PREFIX, read_events

#: Octue's default `limit`.
DEFAULT_LIMIT = 1000


def get_events(
    question_uuid: str | None = None,
    *,
    parent_question_uuid: str | None = None,
    originator_question_uuid: str | None = None,
    kinds: Iterable[str] | None = None,
    exclude_kinds: Iterable[str] | None = None,
    since: Any = None,
    limit: int | None = DEFAULT_LIMIT,
    tail: bool = True,
    include_backend_metadata: bool = False,
    store: str | None = None,
    table_id: str | None = None,
    client: Any = None,
) -> list[dict]:
    """The events of a question, of the questions a question asked (`parent_question_uuid`) or of a whole tree
    (`originator_question_uuid`), oldest first, as `{"event", "attributes"}` (with `backend` and
    `backend_metadata` when `include_backend_metadata`).

    Only `question_uuid` given: the events received so far of a question asked asynchronously in this process.
    Otherwise they are read from `store` (a folder, or `bigquery:PROJECT.DATASET.TABLE`), or `table_id` (a BigQuery
    table, Octue's argument), else the default local store, keeping the events of the `kinds` given (or all but
    `exclude_kinds`), at or after `since`, the newest (`tail`) or oldest `limit` of them (None: all). `client` is
    the BigQuery client to use.
    """
    if store is not None and table_id is not None:
        raise ValueError("Give store or table_id, not both.")
    only_a_question = (
        question_uuid is not None
        and parent_question_uuid is None
        and originator_question_uuid is None
        and kinds is None
        and exclude_kinds is None
        and since is None
        and limit == DEFAULT_LIMIT
        and tail
        and not include_backend_metadata
    )
    if store is None and table_id is None and only_a_question:
        return asynchronous.get_events(question_uuid)
    if table_id is not None:
        store = BIGQUERY_PREFIX + table_id
    rows = read_events(
        store,
        question_uuid=question_uuid,
        parent_question_uuid=parent_question_uuid,
        originator_question_uuid=originator_question_uuid,
        kinds=kinds,
        exclude_kinds=exclude_kinds,
        since=since,
        limit=limit,
        tail=tail,
        client=client,
    )
    return [as_event(row, include_backend_metadata) for row in rows]
