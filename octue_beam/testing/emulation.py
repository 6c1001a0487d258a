"""`emulated_children(...)`: answer the children of services run in this process with `ChildEmulator`s.

    with emulated_children({"elevation": ChildEmulator(events), "wind_speed": [first, second]}):
        analysis = run_locally("parent-service", input_values=...)

By key: a key maps to one emulator (answering every question to that child) or a list of emulators (one per
question, in ask order). In ask order, like Octue's `patch("...Child", side_effect=[...])`: a list of emulators,
each answering the next question asked of any child. Anywhere an emulator is expected, a list of recorded events
may be given instead. No Pub/Sub is used; children keys the twine declares need no configuration meanwhile.
"""

import contextlib
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from octue_beam.service.children import set_emulation
from octue_beam.testing.child_emulator import DEFAULT_ID, ChildEmulator


def _emulator(value: Any, key: str | None = None) -> ChildEmulator:
    if isinstance(value, ChildEmulator):
        return value
    if isinstance(value, (list, tuple)):
        return ChildEmulator(events=value, key=key)
    if hasattr(value, "ask"):
        return value  # anything with an `ask` method answers like a child
    raise TypeError(f"Expected a ChildEmulator or a list of recorded events for child {key!r}; got {value!r:.200}.")


def _is_event_list(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and bool(value) and isinstance(value[0], dict) and "event" in value[0]


class Emulation:
    """Which emulator answers the next question asked of each child; `asked` lists `(key, emulator)` in ask order."""

    def __init__(self, emulators: Mapping[str, Any] | Sequence[Any]) -> None:
        self._lock = threading.Lock()
        self.asked: list[tuple[str, Any]] = []
        self._by_key: dict[str, Any] | None = None
        self._in_order: list[Any] | None = None
        if isinstance(emulators, Mapping):
            self._by_key = {}
            for key, value in emulators.items():
                if isinstance(value, (list, tuple)) and not _is_event_list(value):
                    self._by_key[key] = [_emulator(item, key) for item in value]
                else:
                    self._by_key[key] = _emulator(value, key)
        elif isinstance(emulators, (list, tuple)):
            self._in_order = [_emulator(item) for item in emulators]
        else:
            raise TypeError("emulated_children takes {key: emulator(s)} or a list of emulators in ask order.")

    @property
    def keys(self) -> list[str]:
        return list(self._by_key or {})

    def id_for(self, key: str) -> str:
        value = (self._by_key or {}).get(key)
        if isinstance(value, list):
            value = value[0] if value else None
        return getattr(value, "id", None) or DEFAULT_ID

    def next_for(self, key: str) -> Any:
        with self._lock:
            if self._in_order is not None:
                if not self._in_order:
                    raise RuntimeError(
                        f"Child {key!r} was asked question {len(self.asked) + 1}, but emulated_children was given only "
                        f"{len(self.asked)} emulator(s) (one per question, in ask order)."
                    )
                emulator = self._in_order.pop(0)
            else:
                value = self._by_key.get(key)
                if value is None:
                    raise KeyError(
                        f"No emulator was given for child {key!r} (emulated children: {sorted(self._by_key)})."
                    )
                if isinstance(value, list):
                    if not value:
                        asked = sum(1 for asked_key, _ in self.asked if asked_key == key)
                        raise RuntimeError(
                            f"Child {key!r} was asked {asked + 1} questions but has only {asked} emulator(s)."
                        )
                    emulator = value.pop(0)
                else:
                    emulator = value
            self.asked.append((key, emulator))
            return emulator


@contextlib.contextmanager
def emulated_children(emulators: Mapping[str, Any] | Sequence[Any]) -> Iterator[Emulation]:
    """While active, children of services answering in this process are `ChildEmulator`s (see module doc)."""
    with set_emulation(Emulation(emulators)) as emulation:
        yield emulation
