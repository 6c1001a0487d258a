"""Which question the code running in this thread belongs to, and routing log records to that question.

`question_context(uuid)` marks the code run inside it as answering that question (context variables follow threads
started with `contextvars.copy_context`, and each question runs in its own context). `routing_logs(uuid, callback)`
hands every log record emitted in that question's context to `callback`: the answering core forwards them to the
question's parent, diagnostics keep them. One `QuestionLogRouter` on the root logger serves every question.
"""

import contextlib
import contextvars
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

_current_question: contextvars.ContextVar[str | None] = contextvars.ContextVar("octue_beam_question", default=None)


def current_question() -> str | None:
    """UUID of the question whose app is running in this context, or None."""
    return _current_question.get()


@contextlib.contextmanager
def question_context(question_uuid: str) -> Iterator[None]:
    token = _current_question.set(question_uuid)
    try:
        yield
    finally:
        _current_question.reset(token)


# --- where monitor messages of children go by default (set by the answering side, read by `octue_beam.ask`) --------

_monitor_forwarder: contextvars.ContextVar = contextvars.ContextVar("octue_beam_monitor_forwarder", default=None)


def current_monitor_forwarder() -> Callable[[Any], None] | None:
    """The function that sends a monitor message to the parent of the question being answered here, or None.

    `octue_beam.ask` (and `Child.ask`) called without `handle_monitor_message` inside an app pass their child's
    monitor messages to it, so monitor messages of a grandchild reach the originator.
    """
    return _monitor_forwarder.get()


@contextlib.contextmanager
def monitor_forwarder_context(forward: Callable[[Any], None] | None) -> Iterator[None]:
    """Set the monitor forwarder for code run in this context (the answering side wraps the app run in it)."""
    token = _monitor_forwarder.set(forward)
    try:
        yield
    finally:
        _monitor_forwarder.reset(token)


# --- log records by question -----------------------------------------------------------------------------------------

LogCallback = Callable[[logging.LogRecord], None]


class QuestionLogRouter(logging.Handler):
    """A root-logger handler giving each record to the callbacks of the question it was logged for.

    Records logged while a callback runs (e.g. by the publishing it does) are not routed again, so a callback that
    logs cannot recurse. Callbacks must be thread-safe: records of one question may come from several threads.
    """

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self._callbacks: dict[str, tuple[LogCallback, ...]] = {}
        self._lock = threading.Lock()
        self._local = threading.local()

    def add(self, question_uuid: str, callback: LogCallback) -> None:
        with self._lock:
            self._callbacks[question_uuid] = (*self._callbacks.get(question_uuid, ()), callback)

    def remove(self, question_uuid: str, callback: LogCallback) -> None:
        with self._lock:
            remaining = tuple(c for c in self._callbacks.get(question_uuid, ()) if c is not callback)
            if remaining:
                self._callbacks[question_uuid] = remaining
            else:
                self._callbacks.pop(question_uuid, None)

    def emit(self, record: logging.LogRecord) -> None:
        if not self._callbacks or getattr(self._local, "busy", False):
            return
        callbacks = self._callbacks.get(current_question() or "")
        if not callbacks:
            return
        self._local.busy = True
        try:
            for callback in callbacks:
                callback(record)
        except Exception:  # noqa: BLE001 - a failing callback never breaks the app's logging
            self.handleError(record)
        finally:
            self._local.busy = False

    def handle(self, record: logging.LogRecord) -> bool:  # no per-handler lock: callbacks are thread-safe
        if self.filter(record):
            self.emit(record)
        return True


_router_lock = threading.Lock()


def log_router(logger: logging.Logger | None = None) -> QuestionLogRouter:
    """The `QuestionLogRouter` installed on `logger` (the root logger by default), installed on first use.

    The router lives in the logging tree itself, so every part of the process (the answering core, diagnostics) finds
    the same one without a registry of its own.
    """
    logger = logger or logging.getLogger()
    with _router_lock:
        for handler in logger.handlers:
            if isinstance(handler, QuestionLogRouter):
                return handler
        router = QuestionLogRouter()
        logger.addHandler(router)
        return router


@contextlib.contextmanager
def routing_logs(question_uuid: str, callback: LogCallback) -> Iterator[None]:
    """Give `callback` every record logged in the context of `question_uuid` while inside the block."""
    router = log_router()
    router.add(question_uuid, callback)
    try:
        yield
    finally:
        router.remove(question_uuid, callback)
