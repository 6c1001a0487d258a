"""Labels: a set of strings matching `^[a-z0-9][a-z0-9-]*$` (not ending in `-`)."""

import json
import re
from typing import Any

from octue_beam.exceptions import InvalidLabelException

LABEL_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*(?<!-)$")


_known_valid: set = set()


def check_label(label: Any) -> str:
    """Return the label (stripped) if valid, else raise InvalidLabelException saying why."""
    if isinstance(label, str) and label in _known_valid:
        return label
    if not isinstance(label, str):
        raise InvalidLabelException(f"Labels must be strings; got {label!r} ({type(label).__name__}).")
    cleaned = label.strip()
    if not LABEL_PATTERN.match(cleaned):
        raise InvalidLabelException(
            f"Invalid label {cleaned!r}. Labels contain only lowercase letters 'a-z', digits '0-9' and '-', and "
            "neither start nor end with '-'."
        )
    if cleaned == label and len(_known_valid) < 100_000:
        _known_valid.add(label)
    return cleaned


class LabelSet(set):
    """A set of validated labels. Accepts an iterable, a JSON list string, or a space-separated string."""

    def __init__(self, labels: Any = None):
        if labels is None:
            super().__init__()
            return
        if isinstance(labels, (set, frozenset, list, tuple)):
            try:
                if _known_valid.issuperset(labels):  # fast path: labels already checked before
                    super().__init__(labels)
                    return
            except TypeError:
                pass
        if isinstance(labels, str):
            try:
                parsed = json.loads(labels)
                labels = parsed if isinstance(parsed, list) else labels.split()
            except json.JSONDecodeError:
                labels = labels.split()
        elif isinstance(labels, dict) and labels.get("_type") == "set":
            labels = labels.get("items", [])
        elif not hasattr(labels, "__iter__"):
            raise InvalidLabelException(
                f"Labels must be a space-separated string or an iterable of strings; got {labels!r}."
            )
        super().__init__(check_label(label) for label in labels)

    def add(self, label: str) -> None:
        super().add(check_label(label))

    def update(self, *label_groups: Any) -> None:  # type: ignore[override]
        for group in label_groups:
            if isinstance(group, str):
                super().add(check_label(group))
            else:
                super().update(check_label(label) for label in group)

    def copy(self) -> "LabelSet":  # type: ignore[override]
        return LabelSet(self)

    def any_label_starts_with(self, value: str) -> bool:
        """True if any label starts with `value`."""
        return any(label.startswith(value) for label in self)

    def any_label_ends_with(self, value: str) -> bool:
        """True if any label ends with `value`."""
        return any(label.endswith(value) for label in self)

    def any_label_contains(self, value: str) -> bool:
        """True if any label contains `value`."""
        return any(value in label for label in self)

    def __repr__(self) -> str:
        return f"LabelSet({sorted(self)!r})"
