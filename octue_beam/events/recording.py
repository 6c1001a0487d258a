"""The event recorder: a Beam streaming pipeline of its own, reading every message of the services topic (questions
and every response: no filter) from its own subscription and writing each as an event-store row (`events.rows`):

    ReadEvents -> ToRows -> WriteEventFiles  (Parquet files under a local folder, `--store`)
                        `-> WriteEventsToBigQuery  (`--table`, e.g. on Dataflow)
              `-[unrecordable]-> logged and counted

`python -m octue_beam record-events` (`cli.record_events`) builds it with `build_recorder_pipeline(options)` after
choosing the runner; `RecorderOptions` are its pipeline options. Locally the files are written by
`events.files.WindowFiles` (why not Beam's Parquet sink: see that module): rows are stamped with the time the
recorder reads them and put in fixed windows of `--window_seconds`, so nothing read is ever late and a recorder
catching up a backlog after a restart drops nothing; each window becomes one file once it has ended.
"""

import dataclasses
import logging
import os
import time
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from apache_beam.io.gcp.bigquery import BigQueryDisposition, WriteToBigQuery
from apache_beam.io.gcp.bigquery_tools import RetryStrategy
from apache_beam.io.gcp.pubsub import ReadFromPubSub
from apache_beam.metrics import Metrics
from apache_beam.options.pipeline_options import GoogleCloudOptions, PipelineOptions, StandardOptions
from apache_beam.transforms.window import FixedWindows, TimestampedValue
from apache_beam.utils.shared import Shared

from octue_beam.environment import LOCAL_PROJECT, configured_project
from octue_beam.events.bigquery import parse_table_id
from octue_beam.events.files import WindowFiles
from octue_beam.events.rows import BIGQUERY_SCHEMA, UnrecordableMessage, event_row
from octue_beam.events.store import DEFAULT_STORE
from octue_beam.messaging.pubsub import (
    ensure_subscription,
    parse_subscription,
    parse_topic,
    subscriber_client,
    subscription_path,
)

logger = logging.getLogger(__name__)

UNRECORDABLE = "unrecordable"
METRICS_NAMESPACE = "octue_beam"
DEFAULT_WINDOW_SECONDS = 10.0
#: The recorder's subscription is `<services topic name>` + this, unless `--subscription` names one.
SUBSCRIPTION_SUFFIX = ".event-recorder"
#: How a BigQuery table the recorder creates is laid out: a partition per day, clustered for the readers' selectors.
TABLE_LAYOUT = {
    "timePartitioning": {"type": "DAY", "field": "datetime"},
    "clustering": {"fields": ["question_uuid", "originator_question_uuid"]},
}


class RecorderOptions(PipelineOptions):
    """Options of the event recorder. Their names start with `event_`: every `PipelineOptions` subclass of a process
    shares one parser, so they must not clash with a service pipeline's (`--subscription`, `--services_topic`)."""

    @classmethod
    def _add_argparse_args(cls, parser) -> None:  # Beam's parser type
        parser.add_argument(
            "--event_store",
            default=None,
            help=f"Local folder to write the events to as Parquet files (default: {DEFAULT_STORE} unless "
            "--event_table).",
        )
        parser.add_argument(
            "--event_table",
            default=None,
            help="BigQuery table to write the events to instead, PROJECT.DATASET.TABLE or DATASET.TABLE.",
        )
        parser.add_argument(
            "--event_subscription",
            default=None,
            help=f"Name (or full path) of the recorder's subscription (default: <topic name>{SUBSCRIPTION_SUFFIX}).",
        )
        parser.add_argument(
            "--event_topic",
            default=None,
            help="Name (or full path) of the services topic to record (default: $TWINED_SERVICES_TOPIC_NAME or "
            "main.octue.twined.services).",
        )
        parser.add_argument(
            "--event_window_seconds",
            type=float,
            default=DEFAULT_WINDOW_SECONDS,
            help=f"Seconds per Parquet file window (default: {DEFAULT_WINDOW_SECONDS:g}).",
        )


@dataclasses.dataclass(frozen=True)
class RecorderPlan:
    """What a recorder reads and where it writes, worked out from its options."""

    runner: str
    project: str
    topic_project: str
    topic_name: str
    subscription_project: str
    subscription_name: str
    store: str | None
    table: str | None
    window_seconds: float

    @property
    def topic_path(self) -> str:
        return f"projects/{self.topic_project}/topics/{self.topic_name}"

    @property
    def subscription_path(self) -> str:
        return subscription_path(self.subscription_project, self.subscription_name)

    @property
    def destination(self) -> str:
        """Where the rows go, for messages: the folder or `bigquery:<table>`."""
        return f"bigquery:{self.table}" if self.table else str(self.store)


def plan_recorder(options: PipelineOptions) -> RecorderPlan:
    """Check the recorder's options and name its topic, subscription and store (ValueError saying what is wrong)."""
    recorder = options.view_as(RecorderOptions)
    if recorder.event_store and recorder.event_table:
        raise ValueError("Give a store folder or a BigQuery table to record to, not both.")
    window_seconds = recorder.event_window_seconds
    if not window_seconds or not 0 < window_seconds <= 86400:
        raise ValueError(f"The window must be more than 0 and at most 86400 seconds, not {window_seconds!r}.")
    if recorder.event_table:
        parse_table_id(recorder.event_table)
    runner = str(options.view_as(StandardOptions).runner or "")
    if "dataflow" in runner.lower() and not recorder.event_table:
        raise ValueError(
            "On Dataflow the recorder writes to BigQuery: give --table PROJECT.DATASET.TABLE (or event_store_table_id "
            "in octue.yaml); a local folder cannot be written from Dataflow's workers."
        )
    project = options.view_as(GoogleCloudOptions).project or configured_project() or LOCAL_PROJECT
    options.view_as(GoogleCloudOptions).project = project
    topic_project, topic_name = parse_topic(recorder.event_topic, project)
    subscription_project, subscription_name = parse_subscription(recorder.event_subscription, project)
    return RecorderPlan(
        runner=runner,
        project=project,
        topic_project=topic_project,
        topic_name=topic_name,
        subscription_project=subscription_project,
        subscription_name=subscription_name or topic_name + SUBSCRIPTION_SUFFIX,
        store=None if recorder.event_table else os.path.abspath(recorder.event_store or DEFAULT_STORE),
        table=recorder.event_table,
        window_seconds=float(window_seconds),
    )


def ensure_recorder_subscription(plan: RecorderPlan, ack_deadline_seconds: int | None = None) -> str:
    """The recorder's subscription on the services topic (both created if missing): no filter (it records every
    message), no ordering (rows are ordered by their datetime when read)."""
    options = {} if ack_deadline_seconds is None else {"ack_deadline_seconds": ack_deadline_seconds}
    return ensure_subscription(
        plan.subscription_project,
        plan.subscription_name,
        plan.topic_name,
        enable_message_ordering=False,
        topic_project=plan.topic_project,
        **options,
    )


def record_waiting_messages(plan: RecorderPlan, record: "RecordEvents", max_seconds: float = 10.0) -> int:
    """Record what still waits in the recorder's subscription, without the pipeline: a local recorder that stops
    does this last, so that what was published before it stopped (e.g. the exceptions `run` sends as it stops) is
    in the store. Pulls until the subscription is empty or `max_seconds` pass; returns how many messages it took."""
    if not isinstance(record.sink, WriteEventFiles):
        return 0
    client = subscriber_client()
    deadline = time.monotonic() + max_seconds
    taken = 0
    while time.monotonic() < deadline:
        response = client.pull(
            request={"subscription": plan.subscription_path, "max_messages": 1000, "return_immediately": True},
            retry=None,
            timeout=5,
        )
        if not response.received_messages:
            break
        for received in response.received_messages:
            message = received.message
            try:
                row = event_row(message.data, dict(message.attributes), message.message_id, message.publish_time,
                                message.ordering_key)
            except UnrecordableMessage as error:
                _log_unrecordable(str(error))
                continue
            record.sink.keep(row)
        client.acknowledge(
            request={"subscription": plan.subscription_path,
                     "ack_ids": [received.ack_id for received in response.received_messages]},
            retry=None,
            timeout=5,
        )
        taken += len(response.received_messages)
    return taken


def build_recorder_pipeline(options: PipelineOptions) -> tuple[beam.Pipeline, RecorderPlan, "RecordEvents"]:
    """The recorder's pipeline (not yet run), its plan and its `RecordEvents` (whose `close()` writes what is
    pending when a local recorder stops). The runner is taken as given: choose it first (the CLI maps
    DirectRunner to the local runner that reads Pub/Sub, and turns streaming on)."""
    plan = plan_recorder(options)
    dataflow = "dataflow" in plan.runner.lower()
    record = RecordEvents(
        plan.subscription_path,
        store=plan.store,
        table=_bigquery_table(plan),
        window_seconds=plan.window_seconds,
        id_label="uuid" if dataflow else None,  # Dataflow drops redeliveries of an event; the local runner cannot
    )
    pipeline = beam.Pipeline(options=options)
    pipeline | "RecordEvents" >> record
    return pipeline, plan, record


def _bigquery_table(plan: RecorderPlan) -> str | None:
    """`PROJECT:DATASET.TABLE`, Beam's form, with the recorder's project when the table id names none."""
    if not plan.table:
        return None
    project, dataset, table = parse_table_id(plan.table)
    return f"{project or plan.project}:{dataset}.{table}"


# --- transforms -------------------------------------------------------------------------------------------------


class RecordEvents(beam.PTransform):
    """Every message of `subscription` as an event-store row, in Parquet files under `store` or in the BigQuery
    `table` (`PROJECT:DATASET.TABLE`); messages that are not events are logged and counted."""

    def __init__(self, subscription: str, *, store: str | None = None, table: str | None = None,
                 window_seconds: float = DEFAULT_WINDOW_SECONDS, id_label: str | None = None) -> None:
        super().__init__()
        if bool(store) == bool(table):
            raise ValueError("RecordEvents writes to a store folder or a BigQuery table: give exactly one.")
        self.subscription = subscription
        self.id_label = id_label
        self.sink = WriteEventsToBigQuery(table) if table else WriteEventFiles(store, window_seconds)

    def expand(self, pbegin: Any) -> Any:
        messages = pbegin | "ReadEvents" >> ReadFromPubSub(
            subscription=self.subscription, with_attributes=True, id_label=self.id_label
        )
        rows = messages | "ToRows" >> beam.ParDo(_ToRow()).with_outputs(UNRECORDABLE, main="rows")
        rows[UNRECORDABLE] | "LogUnrecordable" >> beam.Map(_log_unrecordable)
        return rows.rows | "WriteRows" >> self.sink

    def close(self) -> int:
        """Write the rows this process still holds (a local store's open windows); return how many files it wrote
        in all. Call it when the recorder stops."""
        return self.sink.close() if isinstance(self.sink, WriteEventFiles) else 0


class WriteEventFiles(beam.PTransform):
    """Rows (stamped with the time they were read) to Parquet files under `store`: in fixed windows of
    `window_seconds`, a file per window (and process) once the window has ended (`events.files`)."""

    def __init__(self, store: str, window_seconds: float = DEFAULT_WINDOW_SECONDS) -> None:
        super().__init__()
        self.files = EventFiles(store)
        self.window_seconds = window_seconds

    def expand(self, rows: Any) -> Any:
        return (
            rows
            | "FixedWindows" >> beam.WindowInto(FixedWindows(self.window_seconds))
            | "WriteToWindowFiles" >> beam.ParDo(_WriteToWindowFiles(self.files))
        )

    def keep(self, row: dict) -> None:
        """Keep a row read outside the pipeline (`record_waiting_messages`) in the current window."""
        start = time.time() // self.window_seconds * self.window_seconds
        self.files.acquire().add((start, start + self.window_seconds), row)

    def close(self) -> int:
        files = self.files.acquire()
        files.close()
        return files.files_written


class WriteEventsToBigQuery(beam.PTransform):
    """Rows to the BigQuery `table` (`PROJECT:DATASET.TABLE`, created with `BIGQUERY_SCHEMA` if missing, a partition
    per day and clustered by question) with streaming inserts (each row's insert id lets BigQuery drop a retried
    insert); rows BigQuery refuses are logged."""

    def __init__(self, table: str) -> None:
        super().__init__()
        self.table = table

    def expand(self, rows: Any) -> Any:
        result = (
            rows
            | "AsBigQueryRows" >> beam.Map(_bigquery_row)
            | "InsertRows" >> WriteToBigQuery(
                self.table,
                schema={"fields": BIGQUERY_SCHEMA},
                method=WriteToBigQuery.Method.STREAMING_INSERTS,
                create_disposition=BigQueryDisposition.CREATE_IF_NEEDED,
                write_disposition=BigQueryDisposition.WRITE_APPEND,
                additional_bq_parameters=TABLE_LAYOUT,
                # A row BigQuery refuses for good is logged (below), not retried for ever with the rows after it.
                insert_retry_strategy=RetryStrategy.RETRY_ON_TRANSIENT_ERROR,
            )
        )
        result.failed_rows_with_errors | "LogRefusedRows" >> beam.Map(_log_refused_row)
        return result


class EventFiles:
    """The handle (picklable) through which the DoFns and the recorder's process reach the process's `WindowFiles`
    of a store (one per process, through Beam's `Shared`)."""

    def __init__(self, store: str) -> None:
        self.store = os.path.abspath(store)
        self._shared = Shared()

    def acquire(self) -> WindowFiles:
        """This process's writer of the store (started on first use)."""
        return self._shared.acquire(lambda: WindowFiles(self.store).start(), tag=self.store)


# --- DoFns -------------------------------------------------------------------------------------------------------


class _ToRow(beam.DoFn):
    """A `PubsubMessage` -> its event-store row, stamped with the time it is read (the local store's windows are
    windows of reading time), or (tagged `unrecordable`) why it cannot be one."""

    def __init__(self) -> None:
        self.recorded = Metrics.counter(METRICS_NAMESPACE, "events_recorded")
        self.unrecordable = Metrics.counter(METRICS_NAMESPACE, "messages_unrecordable")

    def process(self, message: Any) -> Iterator[Any]:
        try:
            row = event_row(
                message.data,
                message.attributes or {},
                message.message_id or "",
                message.publish_time,
                getattr(message, "ordering_key", None) or "",
            )
        except UnrecordableMessage as error:
            self.unrecordable.inc()
            yield beam.pvalue.TaggedOutput(UNRECORDABLE, str(error))
            return
        self.recorded.inc()
        yield TimestampedValue(row, time.time())


class _WriteToWindowFiles(beam.DoFn):
    """Hands each row to the process's `WindowFiles` under its window (acquired in setup)."""

    def __init__(self, files: EventFiles) -> None:
        self.files_handle = files
        self._files: WindowFiles | None = None

    def setup(self) -> None:
        self._files = self.files_handle.acquire()

    def process(self, row: dict, window: Any = beam.DoFn.WindowParam) -> None:
        self._files.add((window.start.micros / 1e6, window.end.micros / 1e6), row)

    def teardown(self) -> None:
        # The writer outlives the DoFn (its flusher thread holds it): the recorder closes it when it stops.
        self._files = None


def _bigquery_row(row: dict) -> dict:
    """The row as streaming inserts send it (the datetime as ISO 8601 text; the JSON columns are JSON text)."""
    return {**row, "datetime": row["datetime"].isoformat()}


def _log_unrecordable(reason: str) -> None:
    logger.warning("Not recorded (not an event): %s.", reason)


def _log_refused_row(failure: Any) -> None:
    logger.error("BigQuery refused an event row: %s", failure)
