"""Cloud Storage paths (`gs://bucket/name`), signed URLs, and safe local joins.

Paths in `gs://` form are "cloud URIs"; `http(s)://` paths are URLs (signed URLs to objects); both are "cloud
paths". Local paths are anything else.
"""

import os
import posixpath
import urllib.parse

from octue_beam.exceptions import UnsafePath

CLOUD_STORAGE_PROTOCOL = "gs://"


def is_cloud_uri(path: object) -> bool:
    """True for a `gs://bucket/...` path."""
    return isinstance(path, str) and path.startswith(CLOUD_STORAGE_PROTOCOL)


def is_url(path: object) -> bool:
    """True for an `http://` or `https://` path (e.g. a signed URL)."""
    return isinstance(path, str) and (path.startswith("https://") or path.startswith("http://"))


def is_cloud_path(path: object) -> bool:
    """True for a cloud URI or a URL (anything that is not a local path)."""
    return is_cloud_uri(path) or is_url(path)


def generate_gs_path(bucket_name: str, *paths: str) -> str:
    """`gs://bucket/path/...` from a bucket name and path parts."""
    return CLOUD_STORAGE_PROTOCOL + join(bucket_name, *paths)


def split_bucket_name_from_cloud_path(path: str) -> tuple[str, str]:
    """(bucket, name in bucket) of a `gs://` path; the name has no leading slash."""
    if not is_cloud_uri(path):
        raise ValueError(f"{path!r} is not a Cloud Storage path (it must start with 'gs://').")
    bucket, _, name = path[len(CLOUD_STORAGE_PROTOCOL) :].partition("/")
    if not bucket:
        raise ValueError(f"The Cloud Storage path {path!r} has no bucket name.")
    return bucket, name.lstrip("/")


def join(*paths: str) -> str:
    """Join path parts with `/` (keeping a leading `gs://`), dropping empty parts and doubled slashes."""
    parts = [str(part) for part in paths if part not in (None, "")]
    if not parts:
        return ""
    if is_cloud_uri(parts[0]):
        head = parts[0][len(CLOUD_STORAGE_PROTOCOL) :]
        return CLOUD_STORAGE_PROTOCOL + join(head, *parts[1:])
    joined = "/".join(part.strip("/") if i else part.rstrip("/") for i, part in enumerate(parts))
    return joined


def strip_query(url: str) -> str:
    """A URL without its query string (for signed URLs: the object's address)."""
    return url.split("?", 1)[0]


def name_of(path: str) -> str:
    """The last path component of a local path, cloud URI or URL (URL-decoded, without query)."""
    if is_url(path):
        return urllib.parse.unquote(posixpath.basename(urllib.parse.urlparse(path).path))
    if is_cloud_uri(path):
        return posixpath.basename(path.rstrip("/"))
    return os.path.basename(os.path.normpath(path))


def relpath(path: str, start: str) -> str:
    """`path` relative to `start` for cloud URIs and URLs (query strings ignored) or local paths."""
    if is_cloud_path(path) or is_cloud_path(start):
        path_part = _object_part(path)
        start_part = _object_part(start).rstrip("/")
        if start_part and path_part.startswith(start_part + "/"):
            return path_part[len(start_part) + 1 :]
        return posixpath.relpath(path_part or "/", start_part or "/")
    return os.path.relpath(path, start)


def _object_part(path: str) -> str:
    if is_url(path):
        return urllib.parse.unquote(urllib.parse.urlparse(path).path).lstrip("/")
    if is_cloud_uri(path):
        return path[len(CLOUD_STORAGE_PROTOCOL) :]
    return path


def check_relative_path(relative: str, what: str = "path") -> str:
    """Refuse a relative path that is absolute or climbs out of its folder (`..`); return it normalised (`/`)."""
    if not isinstance(relative, str) or not relative:
        raise UnsafePath(f"The {what} {relative!r} is empty or not a string.")
    if "\x00" in relative:
        raise UnsafePath(f"The {what} {relative!r} contains a NUL character.")
    unified = relative.replace("\\", "/")
    if unified.startswith("/") or os.path.isabs(relative) or (len(unified) > 1 and unified[1] == ":"):
        raise UnsafePath(f"The {what} {relative!r} is absolute; only paths inside the folder are allowed.")
    parts = [part for part in unified.split("/") if part not in ("", ".")]
    if not parts or any(part == ".." for part in parts):
        raise UnsafePath(f"The {what} {relative!r} would leave its folder ('..' is not allowed).")
    return "/".join(parts)


def safe_local_join(root: str, relative: str, what: str = "path") -> str:
    """`root/relative` as an absolute path, refusing `..`, absolute paths and symlinks leading outside `root`."""
    relative = check_relative_path(relative, what)
    root_real = os.path.realpath(root)
    candidate = os.path.join(root_real, *relative.split("/"))
    # Any existing part of the path (including symlinks) must resolve inside the root.
    resolved = os.path.realpath(candidate)
    if resolved != root_real and not resolved.startswith(root_real.rstrip(os.sep) + os.sep):
        raise UnsafePath(f"The {what} {relative!r} resolves to {resolved!r}, outside the folder {root_real!r}.")
    if os.path.islink(candidate):
        raise UnsafePath(
            f"The {what} {relative!r} is a symbolic link inside {root_real!r}; refusing to write through it."
        )
    return candidate
