"""The event store: every question and event of every service, recorded by a Beam streaming pipeline of its own
(Parquet files under a local folder, or BigQuery on Dataflow), read back with filters, replayed, and drawn as a
timeline (docs/events.md).

- `rows`: the row of docs/protocol.md (`COLUMNS`, `PARQUET_SCHEMA`, `BIGQUERY_SCHEMA`, `event_row`);
- `recording`: the recorder's pipeline (`RecordEvents`, `RecorderOptions`), writing `files` (a Parquet file per
  window) or to BigQuery;
- `store`: `read_events(store, ...)` from a folder or `bigquery:PROJECT.DATASET.TABLE` (`filters`, `bigquery`);
- `getting`: `octue_beam.get_events`; `replay`: `EventReplayer`; `timeline`: the question tree over time.

Nothing is imported here: `recording` imports Beam and `bigquery` the BigQuery client, which readers do not need.
"""
