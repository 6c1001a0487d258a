"""JSON encoding shared by events, manifests and stored metadata.

Non-JSON types use the tagged objects of the Octue wire format: a set is
`{"_type": "set", "items": [...]}` and a datetime `{"_type": "datetime", "value": "<ISO 8601>"}`.
Readers accept both the tagged form and plain lists/strings.
"""

import datetime
import json
from typing import Any


class OctueJSONEncoder(json.JSONEncoder):
    """Encode sets, datetimes, numpy values and objects with `to_primitive()` the way Octue does."""

    def default(self, obj: Any) -> Any:
        if hasattr(obj, "to_primitive"):
            return obj.to_primitive()
        if isinstance(obj, (set, frozenset)):
            return {"_type": "set", "items": sorted(obj, key=_sort_key)}
        if isinstance(obj, datetime.datetime):
            return {"_type": "datetime", "value": obj.isoformat()}
        if isinstance(obj, datetime.date):
            return obj.isoformat()
        if type(obj).__module__ == "numpy":
            return obj.tolist() if hasattr(obj, "tolist") else obj.item()
        return super().default(obj)


def _sort_key(item: Any) -> tuple:
    return (type(item).__name__, str(item))


def decode_tagged(obj: dict) -> Any:
    """`object_hook` turning tagged objects back into sets and datetimes."""
    kind = obj.get("_type")
    if kind == "set" and "items" in obj:
        return {_hashable(item) for item in obj["items"]}
    if kind == "datetime" and "value" in obj:
        return datetime.datetime.fromisoformat(obj["value"])
    return obj


def _hashable(item: Any) -> Any:
    if isinstance(item, list):
        return tuple(_hashable(i) for i in item)
    if isinstance(item, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in item.items()))
    return item


def dumps(obj: Any, **kwargs: Any) -> str:
    """`json.dumps` with the Octue encoder."""
    return json.dumps(obj, cls=OctueJSONEncoder, **kwargs)


def serialise(obj: Any, **kwargs: Any) -> str:
    """The JSON text of Octue's `serialise()` methods: the object's primitive, keys sorted, indented 4."""
    return dumps(obj.to_primitive() if hasattr(obj, "to_primitive") else obj, sort_keys=True, indent=4, **kwargs)


def loads(text: str | bytes, decode_types: bool = True) -> Any:
    """`json.loads`, turning tagged sets and datetimes back into Python objects when asked."""
    return json.loads(text, object_hook=decode_tagged if decode_types else None)


_PLAIN = (str, int, float, bool, type(None))


def _is_plain(obj: Any) -> bool:
    if isinstance(obj, _PLAIN):
        return True
    if type(obj) is dict:
        return all(type(key) is str and _is_plain(value) for key, value in obj.items())
    if type(obj) is list:
        return all(_is_plain(item) for item in obj)
    return False


def to_json_compatible(obj: Any) -> Any:
    """Plain-JSON form of `obj` (sets/datetimes as tagged objects), as validated against schemas.

    Data that is already plain JSON (dicts, lists, strings, numbers, booleans, None) is returned as it is.
    """
    if _is_plain(obj):
        return obj
    return json.loads(dumps(obj))
