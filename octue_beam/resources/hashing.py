"""CRC32C hashes, base64-encoded, as Cloud Storage reports them (empty hash `AAAAAA==`)."""

import base64
import os
from typing import Any

import google_crc32c

from octue_beam import serialisation

EMPTY_HASH = "AAAAAA=="
_BLOCK_SIZE = 1024 * 1024


def _encode(checksum: "google_crc32c.Checksum") -> str:
    return base64.b64encode(checksum.digest()).decode()


def hash_bytes(data: bytes) -> str:
    """CRC32C of `data`."""
    checksum = google_crc32c.Checksum()
    checksum.update(data)
    return _encode(checksum)


def hash_file(path: str | os.PathLike) -> str:
    """CRC32C of a file's bytes, read in blocks; equal to the `crc32c` Cloud Storage reports."""
    checksum = google_crc32c.Checksum()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_BLOCK_SIZE), b""):
            checksum.update(block)
    return _encode(checksum)


def hash_strings(strings: list[str]) -> str:
    """CRC32C over several strings in the given order (e.g. sorted file hashes of a dataset)."""
    checksum = google_crc32c.Checksum()
    for string in strings:
        checksum.update(string.encode())
    return _encode(checksum)


def hash_value(value: Any) -> str | None:
    """CRC32C of a JSON-able value (keys sorted), or None for None: used for the Analysis strand hashes."""
    if value is None:
        return None
    if hasattr(value, "hash_value"):
        return value.hash_value
    return hash_bytes(serialisation.dumps(value, sort_keys=True).encode())
