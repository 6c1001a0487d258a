"""Tags: a dict of named JSON values whose names match `^[a-z0-9][a-z0-9_]*$` (not ending in `_`)."""

import re
from collections.abc import Iterable
from typing import Any

from octue_beam.exceptions import InvalidTagException

TAG_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_]*(?<!_)$")


_known_valid: set = set()


def check_tag_name(name: Any) -> str:
    """Return `name` if it is a valid tag name, else raise InvalidTagException saying why."""
    if isinstance(name, str) and name in _known_valid:
        return name
    if not isinstance(name, str) or not TAG_NAME_PATTERN.match(name):
        raise InvalidTagException(
            f"Invalid tag name {name!r}. Tag names contain only lowercase letters 'a-z', digits '0-9' and '_', and "
            "neither start nor end with '_'."
        )
    if len(_known_valid) < 100_000:
        _known_valid.add(name)
    return name


class TagDict(dict):
    """A dict of tags; every name is validated on insertion."""

    def __init__(self, tags: Any = None, **kwargs: Any):
        super().__init__()
        if tags:
            self.update(tags)
        if kwargs:
            self.update(kwargs)

    def __setitem__(self, name: str, value: Any) -> None:
        super().__setitem__(check_tag_name(name), value)

    def update(self, tags: Any = (), **kwargs: Any) -> None:  # type: ignore[override]
        items: Iterable = tags.items() if hasattr(tags, "items") else tags
        set_item = dict.__setitem__
        for name, value in items:
            set_item(self, check_tag_name(name), value)
        for name, value in kwargs.items():
            set_item(self, check_tag_name(name), value)

    def setdefault(self, name: str, value: Any = None) -> Any:  # type: ignore[override]
        if name not in self:
            self[name] = value
        return self[name]

    def copy(self) -> "TagDict":  # type: ignore[override]
        return TagDict(self)

    def to_primitive(self) -> dict:
        """A plain dict (JSON form)."""
        return dict(self)

    def __repr__(self) -> str:
        return f"TagDict({dict.__repr__(self)})"
