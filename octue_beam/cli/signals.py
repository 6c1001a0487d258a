"""SIGTERM handled like Ctrl-C while a command runs, so that its cleanup runs (stopping emulators, deleting
subscriptions)."""

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
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
