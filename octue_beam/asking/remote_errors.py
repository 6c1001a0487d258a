"""Re-creating a child's exception in the parent from an `exception` event."""

import builtins
import threading
from collections.abc import Mapping
from typing import Any

from octue_beam import exceptions as octue_beam_exceptions
from octue_beam.exceptions import RemoteException

_generated: dict[str, type[RemoteException]] = {}
_generated_lock = threading.Lock()


def exception_type(name: str) -> type[BaseException]:
    """The local class for a remote exception type name.

    A builtin exception (`ValueError`), else an `octue_beam.exceptions` class of that name, else a subclass of
    RemoteException generated (once) with that name. Builtins that are not `Exception`s (SystemExit,
    KeyboardInterrupt) are never re-created: a child's interruption must not stop the parent.
    """
    for namespace in (builtins, octue_beam_exceptions):
        candidate = getattr(namespace, name, None)
        if isinstance(candidate, type) and issubclass(candidate, Exception):
            return candidate
    with _generated_lock:
        generated = _generated.get(name)
        if generated is None:
            safe_name = name if name.isidentifier() else "RemoteException"
            generated = type(safe_name, (RemoteException,), {"__module__": __name__, "__doc__": f"Remote {name}."})
            _generated[name] = generated
        return generated


def remote_exception(event: Mapping[str, Any], attributes: Mapping[str, Any]) -> BaseException:
    """The exception to raise in the parent for an `exception` event (message includes the remote traceback)."""
    name = str(event.get("exception_type") or "RemoteException")
    remote_message = str(event.get("exception_message", ""))
    traceback_lines = event.get("exception_traceback") or []
    sender = attributes.get("sender", "the child")
    question_uuid = attributes.get("question_uuid", "?")
    message = remote_message
    if traceback_lines:
        message += (
            f"\n\nThe above {name} was raised by {sender} while answering question {question_uuid}. "
            f"Remote traceback (most recent call last):\n" + "".join(str(line) for line in traceback_lines).rstrip()
        )
    else:
        message += f"\n\n(raised by {sender} while answering question {question_uuid})"
    cls = exception_type(name)
    try:
        error = cls(message)
    except Exception:  # noqa: BLE001 - a class needing other arguments: fall back to a generated one
        cls = _fallback(name)
        error = cls(message)
    error.remote_type = name
    error.remote_message = remote_message
    error.remote_traceback = list(traceback_lines)
    error.question_uuid = question_uuid
    error.sender = sender
    return error


def _fallback(name: str) -> type[RemoteException]:
    with _generated_lock:
        key = f"fallback:{name}"
        if key not in _generated:
            safe_name = name if name.isidentifier() else "RemoteException"
            _generated[key] = type(safe_name, (RemoteException,), {"__module__": __name__})
        return _generated[key]
