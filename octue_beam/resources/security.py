"""Rules for manifests that arrive from elsewhere (questions): they may only name cloud data.

A remote manifest may reference `gs://` datasets and `https://` signed URLs (plain `http://` only to the local
storage emulator), never local paths unless explicitly allowed; no path may contain `..` segments, no dataset key
may contain a path separator, and serialised datafiles (which could carry a `local_path`) are not accepted.
Violations raise `octue_beam.exceptions.UnsafePath` naming the dataset key and the offending path.
"""

import os
import urllib.parse
from typing import Any

from octue_beam.exceptions import UnsafePath
from octue_beam.resources import cache
from octue_beam.storage import path as storage_path


def _emulator_netloc() -> str | None:
    host = os.environ.get("STORAGE_EMULATOR_HOST")
    if not host:
        return None
    if not host.startswith("http"):
        host = "http://" + host
    return urllib.parse.urlparse(host).netloc


def check_url(url: str, where: str) -> None:
    """Refuse URLs that are not https (or http to the configured storage emulator) or that climb with `..`."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "https":
        pass
    elif parsed.scheme == "http" and _emulator_netloc() and parsed.netloc == _emulator_netloc():
        pass
    else:
        raise UnsafePath(
            f"{where}: only https:// signed URLs are accepted from a remote manifest, not {_short(url)!r}."
        )
    if not parsed.netloc:
        raise UnsafePath(f"{where}: the URL {_short(url)!r} has no host.")
    _check_segments(urllib.parse.unquote(parsed.path), where, _short(url))


def check_cloud_path(path: Any, where: str, allow_local_paths: bool = False) -> None:
    """Refuse a path a remote manifest may not use (local, `..`, non-https URL)."""
    if not isinstance(path, str) or not path:
        raise UnsafePath(f"{where}: expected a gs:// path or an https:// signed URL, got {path!r}.")
    if storage_path.is_url(path):
        check_url(path, where)
    elif storage_path.is_cloud_uri(path):
        bucket, name = storage_path.split_bucket_name_from_cloud_path(path)
        _check_segments(name, where, path)
    elif not allow_local_paths:
        raise UnsafePath(
            f"{where}: the local path {path!r} is not allowed in a remote manifest; only gs:// paths and https:// "
            "signed URLs are accepted."
        )
    else:
        _check_segments(path, where, path)


def _check_segments(name: str, where: str, shown: str) -> None:
    if ".." in name.replace("\\", "/").split("/"):
        raise UnsafePath(f"{where}: the path {shown!r} contains '..' segments.")
    if "\x00" in name:
        raise UnsafePath(f"{where}: the path {shown!r} contains a NUL character.")


def check_dataset_key(key: Any) -> None:
    if not isinstance(key, str) or not key or "/" in key or "\\" in key or key in (".", "..") or "\x00" in key:
        raise UnsafePath(f"The dataset key {key!r} is not allowed in a remote manifest (no path separators or dots).")


def check_remote_primitive(primitive: Any, allow_local_paths: bool = False) -> None:
    """Check a manifest in JSON form (before anything is read or downloaded)."""
    if not isinstance(primitive, dict):
        raise UnsafePath(f"A remote manifest must be a JSON object; got {type(primitive).__name__}.")
    datasets = primitive.get("datasets") or {}
    if not isinstance(datasets, dict):
        raise UnsafePath("The 'datasets' of a remote manifest must be an object mapping keys to datasets.")
    for key, dataset in datasets.items():
        check_dataset_key(key)
        where = f"Dataset {key!r} of the remote manifest"
        if isinstance(dataset, str):
            check_cloud_path(dataset, where, allow_local_paths)
            continue
        if not isinstance(dataset, dict):
            raise UnsafePath(f"{where} must be a path or a dataset object; got {type(dataset).__name__}.")
        files = dataset.get("files") or []
        if dataset.get("path") is not None or not files:
            check_cloud_path(dataset.get("path"), where, allow_local_paths)
        if not isinstance(files, list):
            raise UnsafePath(f"{where}: 'files' must be a list of paths.")
        for file in files:
            if not isinstance(file, str):
                raise UnsafePath(
                    f"{where}: files must be given as gs:// paths or https:// URLs, not {type(file).__name__}."
                )
            check_cloud_path(
                file, f"{where}, file {file!r}" if not storage_path.is_url(file) else where, allow_local_paths
            )


def check_remote_manifest(manifest: Any, allow_local_paths: bool = False) -> Any:
    """Check an instantiated Manifest: every dataset and file must be in the cloud (or allowed); returns it."""
    for key, dataset in manifest.datasets.items():
        check_dataset_key(key)
        where = f"Dataset {key!r} of the remote manifest"
        check_cloud_path(dataset.path, where, allow_local_paths)
        for file in dataset._files:
            if file.exists_in_cloud:
                check_cloud_path(file.cloud_path, where, allow_local_paths)
            elif not allow_local_paths:
                raise UnsafePath(
                    f"{where}: the file {file.name!r} is local; remote manifests may only name cloud files."
                )
            if file._local_path and not allow_local_paths:
                if not cache.is_in_cache(file._local_path):
                    raise UnsafePath(f"{where}: the file {file.name!r} names the local path {file._local_path!r}.")
    return manifest


def _short(url: str) -> str:
    return url.split("?", 1)[0]
