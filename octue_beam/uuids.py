"""Random (version 4) UUIDs drawn from a buffer of the operating system's random bytes.

`uuid.uuid4()` asks the kernel for 16 random bytes each time, and that system call lets another thread take the
interpreter's lock: a question's few UUIDs made a batch's threads hand the lock back and forth several times per
question (a context switch each). `uuid4()` here reads `BUFFERED_UUIDS` UUIDs' worth of bytes at once; each UUID is
as random as `uuid.uuid4()`'s (the same source, the same version bits). A forked process starts with an empty buffer,
so it never repeats its parent's UUIDs.
"""

import collections
import os
import uuid

#: UUIDs per read of random bytes.
BUFFERED_UUIDS = 256
_SIZE = 16

_buffer: collections.deque[bytes] = collections.deque()  # popleft and extend are atomic: no lock needed


def uuid4() -> uuid.UUID:
    """A new random UUID, as `uuid.uuid4()` makes."""
    try:
        random_bytes = _buffer.popleft()
    except IndexError:
        data = os.urandom(_SIZE * BUFFERED_UUIDS)
        _buffer.extend(data[start : start + _SIZE] for start in range(_SIZE, len(data), _SIZE))
        random_bytes = data[:_SIZE]
    return uuid.UUID(bytes=random_bytes, version=4)


def uuid4_string() -> str:
    """`str(uuid4())`: the form question and event UUIDs travel in."""
    return str(uuid4())


os.register_at_fork(after_in_child=_buffer.clear)
