"""Local `.octue` metadata files, in Octue's shape, read once per folder and cached.

`{"datafiles": {"<file name>": {"id", "timestamp", "tags", "labels", "sdk_version"}}, "dataset": {"id", "name",
"tags", "labels", "path"}}`, JSON with tagged sets/datetimes. The cache is keyed by the file's path and checked
against its modification time and size, so a folder of 10,000 files reads its `.octue` once.
"""

import copy
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from octue_beam import serialisation

logger = logging.getLogger(__name__)

METADATA_FILENAME = ".octue"

_lock = threading.RLock()
_cache: dict[str, tuple[tuple, dict]] = {}


def _signature(path: str) -> tuple | None:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return (stat.st_mtime_ns, stat.st_size)


def metadata_path_for_directory(directory: str) -> str:
    return os.path.join(directory, METADATA_FILENAME)


def load(path: str) -> dict:
    """The contents of the `.octue` file at `path` ({} if absent or invalid). Do not mutate the result."""
    path = os.path.abspath(path)
    signature = _signature(path)
    with _lock:
        cached = _cache.get(path)
        if cached is not None and cached[0] == signature:
            return cached[1]
        if signature is None:
            data: dict = {}
        else:
            try:
                with open(path, "rb") as f:
                    data = serialisation.loads(f.read())
                if not isinstance(data, dict):
                    raise ValueError("not a JSON object")
            except (ValueError, OSError) as error:
                logger.warning("The metadata file %r is not valid (%s); ignoring it. Fix or delete it.", path, error)
                data = {}
        _cache[path] = (signature, data)
        return data


def datafile_metadata(directory: str, name: str) -> dict:
    """Stored metadata of the file `name` in `directory` ({} if none)."""
    return load(metadata_path_for_directory(directory)).get("datafiles", {}).get(name) or {}


def dataset_metadata(directory: str) -> dict:
    """Stored metadata of the dataset in `directory` ({} if none)."""
    return load(metadata_path_for_directory(directory)).get("dataset") or {}


def update(path: str, change: Callable[[dict], Any]) -> None:
    """Apply `change` to a copy of the `.octue` file's contents and write it back (indented, like Octue)."""
    path = os.path.abspath(path)
    with _lock:
        data = copy.deepcopy(load(path))
        before = copy.deepcopy(data)
        change(data)
        if data == before and os.path.exists(path):
            return
        os.makedirs(os.path.dirname(path), exist_ok=True)
        temporary = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
        with open(temporary, "w") as f:
            f.write(serialisation.dumps(data, indent=4))
            f.write("\n")
        os.replace(temporary, path)
        _cache[path] = (_signature(path), data)


def forget(path: str | None = None) -> None:
    """Drop cached contents (of one file, or all)."""
    with _lock:
        if path is None:
            _cache.clear()
        else:
            _cache.pop(os.path.abspath(path), None)


