"""Reading signed URLs: headers (metadata, CRC32C, size) and downloads, streamed."""

import os
from typing import Any

from octue_beam import serialisation
from octue_beam.exceptions import CloudStorageError
from octue_beam.storage.client import decode_custom_metadata

_TIMEOUT = 60
_CHUNK = 1024 * 1024
META_PREFIX = "x-goog-meta-"


def _requests() -> Any:
    """The `requests` module, imported on first use: it costs ~80 ms, which runs reading only local data (ask-local)
    do not pay."""
    import requests

    return requests


def info_from_headers(url: str, headers: Any) -> dict:
    """Cloud info (custom metadata, crc32c, size) from the response headers of a signed-URL GET."""
    custom = {key[len(META_PREFIX) :]: value for key, value in headers.items() if key.lower().startswith(META_PREFIX)}
    crc32c = None
    for part in headers.get("x-goog-hash", "").split(","):
        part = part.strip()
        if part.startswith("crc32c="):
            crc32c = part[len("crc32c=") :]
    size = headers.get("Content-Length")
    return {
        "cloud_path": url,
        "custom_metadata": decode_custom_metadata(custom),
        "crc32c": crc32c,
        "size": int(size) if size and size.isdigit() else None,
        "updated": None,
        "time_created": None,
    }


def head(url: str) -> dict:
    """The metadata of the object behind a signed URL, reading only the response headers."""
    requests = _requests()
    try:
        with requests.get(url, stream=True, timeout=_TIMEOUT) as response:
            response.raise_for_status()
            return info_from_headers(url, response.headers)
    except requests.RequestException as error:
        raise CloudStorageError(f"Could not read the signed URL {_short(url)!r}: {error}") from error


def download(url: str, local_path: str) -> dict:
    """Stream the object behind a signed URL into `local_path`; return its info from the headers."""
    requests = _requests()
    os.makedirs(os.path.dirname(os.path.abspath(local_path)), exist_ok=True)
    try:
        with requests.get(url, stream=True, timeout=_TIMEOUT) as response:
            if response.status_code == 404:
                raise FileNotFoundError(f"Nothing exists at the signed URL {_short(url)!r}.")
            response.raise_for_status()
            with open(local_path, "wb") as f:
                for chunk in response.iter_content(_CHUNK):
                    f.write(chunk)
            return info_from_headers(url, response.headers)
    except requests.RequestException as error:
        raise CloudStorageError(f"Could not download the signed URL {_short(url)!r}: {error}") from error


def get_json(url: str, max_bytes: int = 512 * 1024 * 1024) -> Any:
    """The JSON document behind a signed URL (tagged sets/datetimes decoded)."""
    requests = _requests()
    try:
        with requests.get(url, stream=True, timeout=_TIMEOUT) as response:
            response.raise_for_status()
            chunks, total = [], 0
            for chunk in response.iter_content(_CHUNK):
                total += len(chunk)
                if total > max_bytes:
                    raise CloudStorageError(f"The document at {_short(url)!r} is larger than {max_bytes} bytes.")
                chunks.append(chunk)
    except requests.RequestException as error:
        raise CloudStorageError(f"Could not read the signed URL {_short(url)!r}: {error}") from error
    try:
        return serialisation.loads(b"".join(chunks))
    except ValueError as error:
        raise CloudStorageError(f"The document at {_short(url)!r} is not valid JSON: {error}") from error


def _short(url: str) -> str:
    """A URL without its query (signatures are credentials; keep them out of messages)."""
    return url.split("?", 1)[0]
