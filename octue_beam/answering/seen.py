"""A bounded, thread-safe LRU/TTL set of seen `(question_uuid, retry_count)` pairs (duplicate detection).

Pub/Sub delivers at least once, and a parent may publish the same question twice: a question seen before (same
UUID and retry count) is not answered again. A retry (`retry_count` + 1) is a new key and is answered.
"""

import collections
import threading
import time
from collections.abc import Hashable


class SeenSet:
    """Remembers up to `capacity` keys for `ttl` seconds each; the oldest are forgotten first."""

    def __init__(self, capacity: int = 50_000, ttl: float = 3600.0) -> None:
        if capacity < 1:
            raise ValueError(f"SeenSet capacity must be at least 1, not {capacity}.")
        self.capacity = capacity
        self.ttl = ttl
        self._seen: collections.OrderedDict[Hashable, float] = collections.OrderedDict()
        self._lock = threading.Lock()

    def add(self, key: Hashable) -> bool:
        """Record `key`; return True if it is new (not seen within the TTL), False if it is a duplicate."""
        now = time.monotonic()
        with self._lock:
            self._expire(now)
            if key in self._seen:
                return False
            self._seen[key] = now
            while len(self._seen) > self.capacity:
                self._seen.popitem(last=False)
            return True

    def _expire(self, now: float) -> None:
        while self._seen:
            key, added = next(iter(self._seen.items()))
            if now - added <= self.ttl:
                break
            self._seen.popitem(last=False)

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            self._expire(time.monotonic())
            return key in self._seen

    def __len__(self) -> int:
        with self._lock:
            return len(self._seen)
