"""Loading JSON from the kinds of source twines and strands accept: a path, a JSON string, a file object or data."""

import io
import json
import os
from typing import Any


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def parse_json(text: str | bytes) -> Any:
    """`json.loads` that treats duplicate object keys as an error (ValueError naming the key)."""
    return json.loads(text, object_pairs_hook=_reject_duplicate_keys)


def load_json_source(source: Any) -> tuple[Any, str]:
    """Load `source` and say where it came from: `(data, description)`.

    A `str` or `os.PathLike` naming an existing file (or ending in `.json`) is read as a file; any other
    `str`/`bytes` is parsed as JSON; a file object is read; anything else is returned unchanged (already data).
    Raises FileNotFoundError for a missing `.json` path and ValueError (with the position) for invalid JSON.
    """
    names_a_file = isinstance(source, str) and (source.endswith(".json") or os.path.isfile(source))
    if isinstance(source, os.PathLike) or names_a_file:
        path = os.fspath(source)
        with open(path, encoding="utf-8") as f:
            return parse_json(f.read()), f"file {path!r}"
    if isinstance(source, (str, bytes)):
        return parse_json(source), "a JSON string"
    if isinstance(source, io.IOBase) or hasattr(source, "read"):
        return parse_json(source.read()), f"file object {getattr(source, 'name', '')!r}".replace(" ''", "")
    return source, "data"
