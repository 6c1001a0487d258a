"""The Parquet files of a local event store: one file per (window, shard), written once, atomically.

A recorder process collects rows by fixed window (`add(window_start, window_end, row)`) and writes each window's
rows to one file as soon as the window has ended (`flush`, called by its own flusher thread every
`FLUSH_INTERVAL` seconds, and for every window on `close`):

    <store>/date=YYYY-MM-DD/events-<window start>-<window end>-<shard>-<part>.parquet

`date` is the UTC day of the window's start (a hive partition: readers skip the days they do not need), `shard` is
this process's random id (processes never write the same name), `part` is 0 unless rows of an already written
window arrive later (then a new file, part 1, 2, ...). A file is written to a hidden temporary name in the same
folder, then linked to its final name, which fails if that name exists: no file is ever rewritten, and a reader
never sees a half-written file (readers skip names starting with `.`).

Why not Beam's own sinks: `WriteToParquet` writes windowed files in streaming on the local runner, but under one
fixed prefix (no date partitions), and `fileio.WriteToFiles` writes one file per bundle (on the local runner about
one message each) and has no Parquet sink. Both wait for Beam's watermark, which the local runner moves only when a
Pub/Sub pull returns (up to 30 s when the topic is quiet), and both lose the rows of the open window when the
recorder stops; this writer writes a window at most `FLUSH_INTERVAL` s after it ends and everything on `close`.
"""

import datetime
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from octue_beam.events.rows import PARQUET_SCHEMA

logger = logging.getLogger(__name__)

FLUSH_INTERVAL = 0.5
#: How long after its end a window is written: rows stamped just before the end are still on their way.
GRACE_SECONDS = 0.5
PARTITION = "date"

Window = tuple[float, float]  # (start, end) in seconds since the epoch


def window_file_name(window: Window, shard: str, part: int) -> str:
    """`events-20250304T093000Z-20250304T093100Z-<shard>-<part>.parquet` (start and end in UTC)."""
    start, end = (_utc(moment).strftime("%Y%m%dT%H%M%S") + _fraction(moment) + "Z" for moment in window)
    return f"events-{start}-{end}-{shard}-{part}.parquet"


def partition_folder(store: str, window: Window) -> str:
    """`<store>/date=YYYY-MM-DD`: the partition of the window's UTC start day."""
    return os.path.join(store, f"{PARTITION}={_utc(window[0]).date().isoformat()}")


class WindowFiles:
    """Rows of one recorder process, written to the store a file per window once the window has ended.

    Thread-safe; `start()` starts the flusher thread, `close()` stops it and writes every window left. `clock`
    (seconds since the epoch) is for tests.
    """

    def __init__(self, store: str, shard: str | None = None, clock: Callable[[], float] = time.time) -> None:
        self.store = os.path.abspath(store)
        self.shard = shard or uuid.uuid4().hex[:8]
        self.clock = clock
        self.files_written = 0
        self.rows_written = 0
        self._windows: dict[Window, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "WindowFiles":
        """Start writing ended windows in a thread of its own (idempotent)."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._flush_regularly, name="event-files", daemon=True)
                self._thread.start()
        return self

    def add(self, window: Window, row: dict[str, Any]) -> None:
        """Keep `row` until its window is written."""
        with self._lock:
            self._windows.setdefault(window, []).append(row)

    def pending(self) -> int:
        """How many rows wait to be written."""
        with self._lock:
            return sum(map(len, self._windows.values()))

    def flush(self, everything: bool = False) -> list[str]:
        """Write the windows that ended at least `GRACE_SECONDS` ago (every window with `everything`); return the
        files written. A window whose file cannot be written (e.g. a full disk) is kept and tried again."""
        written = []
        with self._write_lock:
            cutoff = self.clock() - GRACE_SECONDS
            with self._lock:
                due = [window for window in self._windows if everything or window[1] <= cutoff]
                batches = {window: self._windows.pop(window) for window in sorted(due)}
            for window, rows in batches.items():
                try:
                    written.append(self._write(window, rows))
                except Exception:  # the rows are kept for the next flush
                    logger.exception("Could not write %d event row(s) of a window to %s; trying again.", len(rows),
                                     self.store)
                    with self._lock:
                        self._windows.setdefault(window, [])[:0] = rows
        return written

    def close(self) -> list[str]:
        """Stop the flusher thread and write every window left; return the files written now."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)
        return self.flush(everything=True)

    def _flush_regularly(self) -> None:
        while not self._stop.wait(FLUSH_INTERVAL):
            self.flush()

    def _write(self, window: Window, rows: list[dict[str, Any]]) -> str:
        folder = partition_folder(self.store, window)
        os.makedirs(folder, exist_ok=True)
        table = pa.Table.from_pylist(rows, schema=PARQUET_SCHEMA)
        temporary = os.path.join(folder, f".{self.shard}-{uuid.uuid4().hex}.parquet.tmp")
        pq.write_table(table, temporary)
        try:
            part = 0
            while True:
                path = os.path.join(folder, window_file_name(window, self.shard, part))
                if _publish(temporary, path):
                    break
                part += 1
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
        self.files_written += 1
        self.rows_written += len(rows)
        logger.debug("Wrote %d event row(s) to %s.", len(rows), path)
        return path


def _publish(temporary: str, path: str) -> bool:
    """Give the written file its final name unless that name exists (False then): a hard link fails on an existing
    name atomically; on a file system without hard links, the name is checked first, then the file renamed."""
    try:
        os.link(temporary, path)
        return True
    except FileExistsError:
        return False
    except OSError:
        if os.path.exists(path):
            return False
        os.rename(temporary, path)
        return True


def _utc(seconds: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc)


def _fraction(seconds: float) -> str:
    """`.250` for windows that do not start on a whole second, else nothing."""
    milliseconds = round((seconds % 1) * 1000)
    return f".{milliseconds:03d}" if milliseconds else ""
