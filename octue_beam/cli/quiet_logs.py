"""Quietening loggers for a while: `quietened(names)` raises them to ERROR within a block and gives them their levels
back after it, since a command or an import may run inside a longer process (a test session, a notebook)."""

import contextlib
import logging
from collections.abc import Iterator


@contextlib.contextmanager
def quietened(names: tuple[str, ...]) -> Iterator[None]:
    """Within the block, the loggers `names` log errors only (those already quieter stay so)."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [each.level for each in loggers]
    for each in loggers:
        each.setLevel(max(logging.ERROR, each.getEffectiveLevel()))
    try:
        yield
    finally:
        for each, level in zip(loggers, levels, strict=True):
            each.setLevel(level)
