"""SIGTERM (and, for `run`, SIGINT) handled like Ctrl-C while a command runs, so that its cleanup runs (stopping
emulators, deleting subscriptions)."""

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType


def _raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def sigterm_as_keyboard_interrupt() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt inside the block; restore the previous handler after it.

    Signal handlers can only be set from the main thread: elsewhere (e.g. `main()` called from a test's thread)
    the block runs unchanged.
    """
    with _signals_as_keyboard_interrupt(signal.SIGTERM):
        yield


@contextlib.contextmanager
def stop_signals_as_keyboard_interrupt() -> Iterator[None]:
    """Turn SIGINT and SIGTERM into KeyboardInterrupt inside the block, the first one only (a second signal while
    the command stops is ignored, so that its cleanup finishes); restore the previous handlers after it.

    SIGINT is handled even when the process started with it ignored: a shell starts the background jobs of a
    script (`run ... &`) with SIGINT ignored, and Python then leaves it ignored.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def first_stops(signum: int, frame: FrameType | None) -> None:
        if received:
            return
        received.append(signum)
        raise KeyboardInterrupt(f"signal {signum}")

    previous = {signum: signal.signal(signum, first_stops) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def _signals_as_keyboard_interrupt(*signums: int) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, _raise_keyboard_interrupt) for signum in signums}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
