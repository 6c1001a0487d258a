"""Replacing a hook of Beam's local runner once per process: what the local mends (`local_bundles`, `local_reads`,
`local_watermarks`) share. A Beam version without the hook is left as it is, with a warning.

    replace_once(owner, "name", lambda original: replacement, "what is left as it is")

`original` is the attribute as `owner` holds it (a function, or a classmethod object: `inspect.getattr_static`), so
the replacement is put back in the same form.
"""

import inspect
import logging
import threading
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_replaced: set[tuple[Any, str]] = set()


def replace_once(owner: Any, name: str, replacement: Callable[[Any], Any], missing: str) -> bool:
    """Set `owner.name` to `replacement(original)` the first time it is asked for (process-wide; later calls change
    nothing); False, logging the warning `missing`, when `owner` is None or has no `name`."""
    original = None if owner is None else inspect.getattr_static(owner, name, None)
    if original is None:
        logger.warning(missing)
        return False
    with _lock:
        if (owner, name) not in _replaced:
            setattr(owner, name, replacement(original))
            _replaced.add((owner, name))
    return True
