"""The stages of a batch, one composite PTransform each, over the transport-free answering core:

    ReadQuestionRows -> SpreadQuestionRows -> AnswerQuestionRows -> WriteAnswerRows

Chunks of `QuestionRow`s (lists of up to `CHUNK_ROWS`, the later rows of a repeated question UUID already failed)
flow into AnswerQuestionRows and answer rows (dicts, `rows.ANSWER_COLUMNS`) out of it: exactly one per question row,
whatever happens to the question. Rows travel in chunks because each element crossing a stage boundary is encoded
and decoded by the runner: one row per element cost a batch a sixth of its time per question.

The answering DoFn is thin: it acquires its process's `ServiceWorker` in `setup()` (one per process through a
`ServiceWorkers` handle, as in the streaming pipeline, with an `AnswerSink` for a publisher), hands each question to
the worker's `QuestionRunner` (the service's time limit, `max_concurrent_questions` at a time) and outputs each answer
row as its question ends.
"""

import collections
import importlib
import json
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam
import pyarrow as pa
from apache_beam.io import parquetio
from apache_beam.io.textio import WriteToText
from apache_beam.transforms.window import GlobalWindows

from octue_beam.batch.files import JSON_LINES, file_format, read_question_rows
from octue_beam.batch.progress import ProgressWriter
from octue_beam.batch.questions import to_question
from octue_beam.batch.rows import (
    ANSWERED,
    FAILED,
    JSON_COLUMNS,
    QuestionRow,
    answer_row,
    duplicate,
    failure_row,
    to_parquet_record,
)
from octue_beam.exceptions import InvalidEvent
from octue_beam.pipeline.worker import ServiceWorker, ServiceWorkers

METRICS_NAMESPACE = "octue_beam.batch"
#: Questions handed to the runner per slot of its (`max_concurrent_questions`): the others wait in the DoFn.
IN_FLIGHT_PER_SLOT = 2
#: Question rows per element between reading and answering (enough to make the runner's cost per element small, few
#: enough that a file of a few hundred questions is still spread over several workers).
CHUNK_ROWS = 50

#: The Parquet schema of an answers file (the JSON columns as JSON text, marked as such, as in the event store).
ANSWERS_SCHEMA = pa.schema(
    [
        pa.field("question_uuid", pa.string()),
        pa.field("row", pa.int64()),
        pa.field("status", pa.string()),
        *(pa.field(name, pa.string(), metadata={b"type": b"JSON"}) for name in JSON_COLUMNS[:4]),
        pa.field("exception", pa.string(), metadata={b"type": b"JSON"}),
        pa.field("duration", pa.float64()),
    ]
)


class ReadQuestionRows(beam.PTransform):
    """Chunks of the `QuestionRow`s of a questions file, read in order by one worker (rows are small, answering is
    the work), in which each row whose question UUID an earlier row has is failed with `DuplicateQuestionUUID`."""

    def __init__(self, path: str, chunk_rows: int = CHUNK_ROWS) -> None:
        super().__init__()
        self.path = path
        self.chunk_rows = chunk_rows

    def expand(self, pbegin: Any) -> Any:
        return pbegin | "Path" >> beam.Create([self.path]) | "Read" >> beam.ParDo(_ReadRows(self.chunk_rows))


class SpreadQuestionRows(beam.PTransform):
    """The chunks of question rows spread over the workers (a reshuffle: without it, the stages after the one
    worker that reads the file would run on that worker alone)."""

    def expand(self, chunks: Any) -> Any:
        return chunks | "Reshuffle" >> beam.Reshuffle()


class AnswerQuestionRows(beam.PTransform):
    """An answer row for each question row of the chunks: answered by the core, or failed with the reason it is no
    question.

    `progress` is a local file the workers append their counts to (`batch.progress`), or None.
    """

    def __init__(self, workers: ServiceWorkers, max_message_bytes: int, progress: str | None = None) -> None:
        super().__init__()
        self.workers = workers
        self.max_message_bytes = max_message_bytes
        self.progress = progress

    def expand(self, rows: Any) -> Any:
        return rows | "Answer" >> beam.ParDo(_AnswerRows(self.workers, self.max_message_bytes, self.progress))


class WriteAnswerRows(beam.PTransform):
    """Answer rows to one file, JSON lines or Parquet by its name (no shard suffix: the file is `path`)."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    def expand(self, answers: Any) -> Any:
        if file_format(self.path) == JSON_LINES:
            return (
                answers
                | "ToJson" >> beam.Map(_json_line)
                | "Write" >> WriteToText(self.path, shard_name_template="", num_shards=1)
            )
        return (
            answers
            | "ToParquet" >> beam.Map(to_parquet_record)
            | "Write" >> _parquet_io().WriteToParquet(self.path, ANSWERS_SCHEMA, shard_name_template="", num_shards=1)
        )


# --- DoFns and functions ---------------------------------------------------------------------------------------------


class _ReadRows(beam.DoFn):
    def __init__(self, chunk_rows: int) -> None:
        super().__init__()
        self.chunk_rows = chunk_rows

    def process(self, path: str) -> Iterator[list[QuestionRow]]:
        chunk: list[QuestionRow] = []
        for row in _failing_duplicates(read_question_rows(path)):
            chunk.append(row)
            if len(chunk) == self.chunk_rows:
                yield chunk
                chunk = []
        if chunk:
            yield chunk


def _failing_duplicates(rows: Iterable[QuestionRow]) -> Iterator[QuestionRow]:
    """The rows in order, each row whose question UUID an earlier row has failed with `DuplicateQuestionUUID` (a row
    that is already failed stays as it is, and its UUID still counts as taken)."""
    first: dict[str, QuestionRow] = {}
    for row in rows:
        earlier = first.setdefault(row.question_uuid, _where_only(row))
        yield row if earlier.index == row.index or row.error is not None else duplicate(row, earlier)


def _where_only(row: QuestionRow) -> QuestionRow:
    """The row without its inputs: what `duplicate` needs of the first row of a UUID, kept until the file is read."""
    return QuestionRow(row.index, row.where, row.question_uuid)


class _Running:
    """A question handed to the runner: when it was handed over and ended (set by the runner's thread, which then
    puts it on its bundle's `ended` queue), and its future."""

    def __init__(self, row: QuestionRow, slots: threading.Semaphore, ended: "collections.deque[_Running]") -> None:
        self.row = row
        self.started = time.perf_counter()
        self.ended: float | None = None
        self.future: Any = None
        self._slots = slots
        self._queue = ended

    def end(self, future: Any) -> None:
        self.ended = time.perf_counter()
        self._queue.append(self)
        self._slots.release()

    def answer(self) -> dict[str, Any]:
        """The answer row, once the question has ended (waits for it)."""
        pending = self.future.result()
        if pending is None:  # the core dropped it as a duplicate delivery: ReadQuestionRows prevents this
            return failure_row(self.row.failed(InvalidEvent(
                f"The question of {self.row.where} was not answered: the worker had already answered its UUID."
            )))
        final = pending.wait().event
        started = pending.started_at or self.started  # its app's start: a question's wait for a slot is not its own
        return answer_row(self.row, final, (self.ended or time.perf_counter()) - started)


class _AnswerRows(beam.DoFn):
    """Hands each question to the worker's runner, at most `IN_FLIGHT_PER_SLOT` per slot at a time (a question's
    duration is its app's, from `PendingAnswer.started_at`, not its time in the queue), and outputs the answer row
    of each question as it ends: in `process` those that ended meanwhile (the runner's threads queue them: polling
    every question in flight at each row cost a batch a twentieth of its time), in `finish_bundle` the rest (waiting
    for them, each within its time limit)."""

    def __init__(self, workers: ServiceWorkers, max_message_bytes: int, progress: str | None) -> None:
        super().__init__()
        self.workers = workers
        self.max_message_bytes = max_message_bytes
        self.progress = progress
        self._worker: ServiceWorker | None = None
        self._running: dict[_Running, None] = {}  # handed over, answer row not output yet (in order)
        self._ended: collections.deque[_Running] = collections.deque()

    def setup(self) -> None:
        self._worker = self.workers.acquire()
        # Twice the runner's slots in flight: a question ending finds the next one queued, and its thread runs it
        # instead of a thread being started for it (a tenth of a batch's time per question).
        self._slots = threading.Semaphore(IN_FLIGHT_PER_SLOT * self._worker.runner.slots)
        self._progress = ProgressWriter(self.progress) if self.progress else None
        self._counters = {
            status: beam.metrics.Metrics.counter(METRICS_NAMESPACE, status) for status in (ANSWERED, FAILED)
        }

    def start_bundle(self) -> None:
        # A bundle's own queue: a question of a bundle that failed midway, ending late, is never output by the next.
        self._running, self._ended = {}, collections.deque()

    def process(self, chunk: list[QuestionRow]) -> Iterator[dict[str, Any]]:
        for row in chunk:
            yield from self._submit(row)

    def _submit(self, row: QuestionRow) -> Iterator[dict[str, Any]]:
        """Hand the row's question to the runner (a failure row at once if it is no question), then output the
        answer rows of the questions that ended meanwhile."""
        question = to_question(row, self._worker.config.sruid, self.max_message_bytes)
        if isinstance(question, QuestionRow):
            yield self._counted(failure_row(question))
            return
        self._slots.acquire()
        running = _Running(row, self._slots, self._ended)
        try:
            running.future = self._worker.runner.submit(question)
        except BaseException:
            self._slots.release()
            raise
        running.future.add_done_callback(running.end)
        self._running[running] = None
        while self._ended:
            yield self._output(self._ended.popleft())

    def finish_bundle(self) -> Iterator[Any]:
        for running in list(self._running):
            yield GlobalWindows.windowed_value(self._output(running))
        self._running, self._ended = {}, collections.deque()
        if self._progress is not None:
            self._progress.flush()

    def teardown(self) -> None:
        if self._progress is not None:
            self._progress.close()
        self._worker = None

    def _output(self, running: _Running) -> dict[str, Any]:
        del self._running[running]
        return self._counted(running.answer())

    def _counted(self, answer: dict[str, Any]) -> dict[str, Any]:
        self._counters[answer["status"]].inc()
        if self._progress is not None:
            self._progress.add(answer["status"] == ANSWERED)
        return answer


def _parquet_io() -> Any:
    """Beam's Parquet module, with pyarrow. A process whose first import of Beam refused pyarrow (`run`'s pipeline
    process does, to start faster) holds a `parquetio` without it (its `pa` is None): that one is loaded again."""
    global parquetio
    if getattr(parquetio, "pa", None) is None:
        parquetio = importlib.reload(parquetio)
    return parquetio


def _json_line(answer: dict[str, Any]) -> str:
    return json.dumps(answer, ensure_ascii=False)
