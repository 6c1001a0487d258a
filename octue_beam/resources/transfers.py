"""Running many file transfers at once: a thread pool with a progress bar when a terminal is attached."""

import concurrent.futures
import contextvars
import sys
from collections.abc import Callable, Iterable
from typing import Any

MAX_WORKERS = 16


def run_in_threads(function: Callable[[Any], Any], items: Iterable, description: str) -> list:
    """`function(item)` for every item in parallel threads (results in order); the first error is re-raised."""
    items = list(items)
    if not items:
        return []
    show_progress = sys.stderr.isatty() and len(items) > 1
    progress: Any = None
    if show_progress:
        # Lazy: tqdm (with importlib.metadata) adds ~30 ms to importing the data resources, which ask-local and
        # local-only runs would pay for a progress bar they only show for several transfers on a terminal.
        from tqdm import tqdm

        progress = tqdm(total=len(items), desc=description, unit="file", leave=False)
    results: list = [None] * len(items)
    workers = min(MAX_WORKERS, len(items))
    try:
        if workers == 1:
            for index, item in enumerate(items):
                results[index] = function(item)
                if progress is not None:
                    progress.update(1)
            return results
        with concurrent.futures.ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="octue-beam-transfer"
        ) as pool:
            # Each task runs in a copy of the caller's context (e.g. its cache scope).
            context = contextvars.copy_context()
            futures = {pool.submit(context.copy().run, function, item): index for index, item in enumerate(items)}
            try:
                for future in concurrent.futures.as_completed(futures):
                    results[futures[future]] = future.result()
                    if progress is not None:
                        progress.update(1)
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
        return results
    finally:
        if progress is not None:
            progress.close()
