"""The event store: every question and event of every service, recorded by a Beam streaming pipeline of its own
(Parquet files under a local folder, or BigQuery on Dataflow), read back with filters, replayed, and drawn as a
timeline (docs/events.md)."""
