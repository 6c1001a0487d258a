"""The progress of a local batch: the workers append their counts to a file, the driver shows them as a progress bar.

Beam's local runner reports metrics only when a job ends, and its workers may be other processes, so each answering
DoFn appends `"<answered> <failed>\\n"` lines to a progress file (`ProgressWriter`, an O_APPEND write of a few
bytes at most every `FLUSH_SECONDS`, and at the end of each bundle), and the driver sums them (`ProgressReader`)
into a tqdm bar (`ProgressBar`). A bundle Beam retries may count twice: the bar is only a view, the closing
summary comes from the job's metrics.
"""

import os
import threading
import time
from types import TracebackType

from tqdm import tqdm

FLUSH_SECONDS = 0.2


class ProgressWriter:
    """Counts answered and failed questions and appends them to the progress file now and then."""

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._lock = threading.Lock()
        self._answered = self._failed = 0
        self._flushed = time.monotonic()

    def add(self, answered: bool) -> None:
        """Count one question; write the counts if the last write is `FLUSH_SECONDS` old."""
        with self._lock:
            if answered:
                self._answered += 1
            else:
                self._failed += 1
            if time.monotonic() - self._flushed >= FLUSH_SECONDS:
                self._write()

    def flush(self) -> None:
        """Write the counts not yet written."""
        with self._lock:
            self._write()

    def close(self) -> None:
        with self._lock:
            self._write()
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    def _write(self) -> None:
        if (self._answered or self._failed) and self._fd >= 0:
            os.write(self._fd, f"{self._answered} {self._failed}\n".encode())
            self._answered = self._failed = 0
        self._flushed = time.monotonic()


class ProgressReader:
    """The sums of the complete lines appended to a progress file so far."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.answered = self.failed = 0
        self._offset = 0
        self._partial = b""

    def poll(self) -> tuple[int, int]:
        """`(answered, failed)` so far."""
        try:
            with open(self.path, "rb") as stream:
                stream.seek(self._offset)
                data = stream.read()
        except FileNotFoundError:
            return self.answered, self.failed
        self._offset += len(data)
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            answered, failed = line.split()
            self.answered += int(answered)
            self.failed += int(failed)
        return self.answered, self.failed


class ProgressBar:
    """A tqdm bar of a batch's questions (on stderr; off when stderr is not a terminal, unless `show`), following a
    progress file from a thread while the job runs. `first_seen` and `last_seen` are when (`time.perf_counter()`)
    it first and last saw the count grow: the answering phase, between the job's start-up and its writing."""

    def __init__(self, path: str, total: int | None, show: bool | None = None, interval: float = 0.1) -> None:
        self.reader = ProgressReader(path)
        self.interval = interval
        self.first_seen: float | None = None
        self.last_seen: float | None = None
        self._bar = tqdm(total=total, unit="q", desc="questions", disable=None if show is None else not show)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="octue-beam-batch-progress", daemon=True)

    def __enter__(self) -> "ProgressBar":
        self._thread.start()
        return self

    def __exit__(self, kind: type | None, error: BaseException | None, traceback: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()
        self._update()
        self._bar.close()

    def _follow(self) -> None:
        while not self._stop.wait(self.interval):
            self._update()

    def _update(self) -> None:
        answered, failed = self.reader.poll()
        done = answered + failed
        if self._bar.total is not None:
            done = min(done, self._bar.total)
        if done > self._bar.n:
            self.last_seen = time.perf_counter()
            if self.first_seen is None:
                self.first_seen = self.last_seen
            self._bar.update(done - self._bar.n)
            self._bar.set_postfix(failed=failed, refresh=False)
