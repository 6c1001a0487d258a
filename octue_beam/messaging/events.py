"""Event bodies of the wire protocol (the JSON in a Pub/Sub message's `data`).

A question ends with exactly one `result` or one `exception` event.
"""

import logging
import traceback
from typing import Any

QUESTION = "question"
DELIVERY_ACKNOWLEDGEMENT = "delivery_acknowledgement"
HEARTBEAT = "heartbeat"
LOG_RECORD = "log_record"
MONITOR_MESSAGE = "monitor_message"
EXCEPTION = "exception"
RESULT = "result"

KINDS = (QUESTION, DELIVERY_ACKNOWLEDGEMENT, HEARTBEAT, LOG_RECORD, MONITOR_MESSAGE, EXCEPTION, RESULT)
FINAL_KINDS = (RESULT, EXCEPTION)

LOG_RECORD_FIELDS = (
    "msg", "levelname", "levelno", "name", "created", "filename", "funcName", "lineno", "module", "msecs",
    "pathname", "process", "processName", "relativeCreated", "thread", "threadName", "exc_text", "stack_info",
)


def question(input_values: Any = None, input_manifest: Any = None, children: list | None = None) -> dict:
    """A `question` event; absent inputs are left out, as Octue does."""
    event: dict[str, Any] = {"kind": QUESTION}
    if input_values is not None:
        event["input_values"] = input_values
    if input_manifest is not None:
        event["input_manifest"] = _primitive(input_manifest)
    if children is not None:
        event["children"] = children
    return event


def delivery_acknowledgement() -> dict:
    return {"kind": DELIVERY_ACKNOWLEDGEMENT}


def heartbeat() -> dict:
    return {"kind": HEARTBEAT}


def monitor_message(data: Any) -> dict:
    return {"kind": MONITOR_MESSAGE, "data": data}


def log_record(record: logging.LogRecord) -> dict:
    """A `log_record` event: the record's fields with the message interpolated and args/exc_info nulled."""
    fields = {name: getattr(record, name, None) for name in LOG_RECORD_FIELDS}
    fields["msg"] = record.getMessage()
    if record.exc_info and not record.exc_text:
        fields["exc_text"] = "".join(traceback.format_exception(*record.exc_info))
    fields["args"] = None
    fields["exc_info"] = None
    return {"kind": LOG_RECORD, "log_record": fields}


def exception(error: BaseException) -> dict:
    """An `exception` event carrying the error's type name, message and traceback lines."""
    return {
        "kind": EXCEPTION,
        "exception_type": type(error).__name__,
        "exception_message": str(error),
        "exception_traceback": traceback.format_tb(error.__traceback__) if error.__traceback__ else [],
    }


def result(output_values: Any = None, output_manifest: Any = None) -> dict:
    """A `result` event; only None counts as "no output" (0, [] and {} are sent)."""
    event: dict[str, Any] = {"kind": RESULT}
    if output_values is not None:
        event["output_values"] = output_values
    if output_manifest is not None:
        event["output_manifest"] = _primitive(output_manifest)
    return event


def _primitive(manifest: Any) -> Any:
    """A manifest's JSON primitive (a Manifest is serialised, a primitive given is kept)."""
    return manifest.to_primitive() if hasattr(manifest, "to_primitive") else manifest
