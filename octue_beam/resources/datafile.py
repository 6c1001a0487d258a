"""Datafile: one file, local or in Cloud Storage (`gs://`) or behind a signed URL, with metadata.

Metadata is `id`, `timestamp`, `tags` and `labels`. It is stored beside the file: as Cloud Storage custom metadata
(`octue__id`, `octue__timestamp`, `octue__tags`, `octue__labels`, `octue__sdk_version`, JSON-encoded) or in the
folder's local `.octue` file, exactly as Octue does, so either SDK reads what the other wrote. Stored metadata takes
precedence over constructor arguments unless `ignore_stored_metadata=True`.

Cloud files are downloaded lazily (on first `local_path` / `open()`), into the per-process cache folder. Cloud
metadata is fetched lazily too, and not at all when a Dataset already listed it.
"""

import datetime
import logging
import os
import re
import shutil
import uuid
from typing import Any

from octue_beam import __version__, serialisation
from octue_beam.exceptions import CloudLocationNotSpecified, InvalidInputException, ReadOnlyResource
from octue_beam.resources import cache, local_metadata, urls
from octue_beam.resources.hashing import EMPTY_HASH, hash_file, hash_value
from octue_beam.resources.labels import LabelSet
from octue_beam.resources.tags import TagDict
from octue_beam.storage import client
from octue_beam.storage import path as storage_path

logger = logging.getLogger(__name__)

OCTUE_METADATA_NAMESPACE = "octue"
METADATA_ATTRIBUTES = ("id", "timestamp", "tags", "labels")
_MODIFYING_MODES = set("wax+")


_CANONICAL_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def check_id(value: Any) -> str:
    """A UUID as a string; a new one for None; InvalidInputException for anything else."""
    if value is None:
        return str(uuid.uuid4())
    if isinstance(value, str) and _CANONICAL_UUID.match(value):
        return value
    if isinstance(value, uuid.UUID):
        return str(value)
    try:
        return str(uuid.UUID(value))
    except (ValueError, TypeError, AttributeError):
        raise InvalidInputException(f"The id {value!r} is not a valid UUID.") from None


def to_timestamp(value: Any) -> datetime.datetime | None:
    """A datetime from a datetime, a POSIX number (UTC), an ISO 8601 string or a tagged datetime; None stays None."""
    if value is None or isinstance(value, datetime.datetime):
        return value
    if isinstance(value, bool):
        raise TypeError(f"A timestamp cannot be a boolean; got {value!r}.")
    if isinstance(value, (int, float)):
        return datetime.datetime.fromtimestamp(value, tz=datetime.timezone.utc)
    if isinstance(value, dict) and value.get("_type") == "datetime":
        value = value.get("value")
    if isinstance(value, str):
        try:
            return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
    raise TypeError(f"A timestamp must be a datetime, a POSIX number, an ISO 8601 string or None; got {value!r}.")


def strip_namespace(custom_metadata: dict) -> dict:
    """Octue's `octue__<name>` custom metadata keys without the namespace."""
    prefix = OCTUE_METADATA_NAMESPACE + "__"
    return {key[len(prefix) :]: value for key, value in (custom_metadata or {}).items() if key.startswith(prefix)}


class Datafile:
    """A file addressed by a local path, a `gs://bucket/path` URI or an `https://` signed URL, with metadata.

    `Datafile(path, local_path=None, cloud_path=None, timestamp=None, mode="r", update_metadata=True,
    ignore_stored_metadata=False, id=None, tags=None, labels=None, name=None, **open_kwargs)` as in Octue.
    """

    _METADATA_ATTRIBUTES = METADATA_ATTRIBUTES

    def __init__(
        self,
        path: str,
        local_path: str | None = None,
        cloud_path: str | None = None,
        timestamp: Any = None,
        mode: str = "r",
        update_metadata: bool = True,
        ignore_stored_metadata: bool = False,
        id: Any = None,
        tags: Any = None,
        labels: Any = None,
        name: str | None = None,
        **kwargs: Any,
    ):
        kwargs.pop("_cloud_metadata", None)
        kwargs.pop("immutable_hash_value", None)
        stored = kwargs.pop("_stored_metadata", None)
        cloud_info = kwargs.pop("_cloud_info", None)
        if not isinstance(path, (str, os.PathLike)):
            raise InvalidInputException(f"A Datafile path must be a string; got {path!r}.")
        path = os.fspath(path)
        self._id = None if id is None else check_id(id)
        self._timestamp = to_timestamp(timestamp)
        self._tags = TagDict(tags) if tags else TagDict()
        self._labels = LabelSet(labels) if labels else LabelSet()
        self._name = name
        self._ignore_stored_metadata = ignore_stored_metadata
        self._open_attributes = {"mode": mode, "update_metadata": update_metadata, **kwargs}
        self._local_path: str | None = None
        self._cloud_path: str | None = None
        self._cloud_info: dict | None = cloud_info
        self._stored_loaded = True
        self._hash_cache: tuple | None = None

        if storage_path.is_cloud_path(path):
            self._cloud_path = path
            if cloud_info is not None:
                if not ignore_stored_metadata:
                    self._set_metadata(strip_namespace(cloud_info.get("custom_metadata") or {}))
            elif stored is not None:
                if not ignore_stored_metadata:
                    self._set_metadata(stored)
            else:
                self._stored_loaded = ignore_stored_metadata
            if local_path:
                self._adopt_local_copy(os.path.abspath(local_path))
            return

        self._local_path = os.path.abspath(path)
        if not ignore_stored_metadata:
            if stored is None:
                stored = local_metadata.datafile_metadata(os.path.dirname(self._local_path), self.name)
            self._set_metadata(stored)
        if cloud_path:
            self.upload(cloud_path)

    # --- construction helpers ---------------------------------------------------------------------------

    @classmethod
    def from_cloud_info(cls, info: dict, ignore_stored_metadata: bool = False) -> "Datafile":
        """A cloud datafile from a listing entry (`storage.client.blob_info`): no further network calls."""
        return cls(info["cloud_path"], ignore_stored_metadata=ignore_stored_metadata, _cloud_info=info)

    def _adopt_local_copy(self, local_path: str) -> None:
        if os.path.exists(local_path) and self.cloud_hash_value == hash_file(local_path):
            self._local_path = local_path
        else:
            self.download(local_path)

    def _set_metadata(self, metadata: dict) -> None:
        if not metadata:
            return
        if metadata.get("id") is not None:
            self._id = check_id(metadata["id"])
        if "timestamp" in metadata:
            self._timestamp = to_timestamp(metadata["timestamp"])
        if metadata.get("tags") is not None:
            self._tags = TagDict(metadata["tags"])
        if metadata.get("labels") is not None:
            self._labels = LabelSet(metadata["labels"])

    def _ensure_stored_metadata(self) -> None:
        """Fetch cloud metadata once (only for cloud files not listed by a dataset) and let it take precedence."""
        if self._stored_loaded:
            return
        self._stored_loaded = True
        info = self._get_cloud_info()
        if info:
            self._set_metadata(strip_namespace(info.get("custom_metadata") or {}))

    def _get_cloud_info(self) -> dict | None:
        if self._cloud_info is None and self._cloud_path:
            if storage_path.is_url(self._cloud_path):
                self._cloud_info = urls.head(self._cloud_path)
            else:
                self._cloud_info = client.get_metadata(self._cloud_path) or {}
        return self._cloud_info

    # --- metadata attributes ------------------------------------------------------------------------------

    @property
    def id(self) -> str:
        self._ensure_stored_metadata()
        if self._id is None:
            self._id = str(uuid.uuid4())
        return self._id

    @property
    def timestamp(self) -> datetime.datetime | None:
        self._ensure_stored_metadata()
        return self._timestamp

    @timestamp.setter
    def timestamp(self, value: Any) -> None:
        self._ensure_stored_metadata()
        self._timestamp = to_timestamp(value)

    @property
    def posix_timestamp(self) -> float | None:
        timestamp = self.timestamp
        return None if timestamp is None else timestamp.timestamp()

    @property
    def tags(self) -> TagDict:
        self._ensure_stored_metadata()
        return self._tags

    @tags.setter
    def tags(self, value: Any) -> None:
        self._ensure_stored_metadata()
        self._tags = TagDict(value)

    @property
    def labels(self) -> LabelSet:
        self._ensure_stored_metadata()
        return self._labels

    @labels.setter
    def labels(self, value: Any) -> None:
        self._ensure_stored_metadata()
        self._labels = LabelSet(value)

    def add_labels(self, *labels: str) -> None:
        self.labels.update(*labels)

    def add_tags(self, tags: dict | None = None, **kwargs: Any) -> None:
        self.tags.update(tags or {}, **kwargs)

    def metadata(
        self, include_id: bool = True, include_sdk_version: bool = True, use_octue_namespace: bool = True
    ) -> dict:
        """The metadata as stored (`octue__`-prefixed keys by default)."""
        metadata: dict[str, Any] = {
            "id": self.id,
            "timestamp": self.timestamp,
            "tags": self.tags,
            "labels": self.labels,
        }
        if not include_id:
            del metadata["id"]
        if include_sdk_version:
            metadata["sdk_version"] = __version__
        if use_octue_namespace:
            return {f"{OCTUE_METADATA_NAMESPACE}__{key}": value for key, value in metadata.items()}
        return metadata

    # --- locations ----------------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        if self._name:
            return self._name
        if self._cloud_path:
            return storage_path.name_of(self._cloud_path)
        return os.path.basename(self._local_path)

    @name.setter
    def name(self, value: str) -> None:
        self._name = value

    @property
    def extension(self) -> str:
        return os.path.splitext(self.name)[-1].lstrip(".")

    @property
    def path(self) -> str:
        """The local path if the file has a local copy, else its cloud path (as in Octue's serialisation)."""
        return self._local_path or self._cloud_path

    @property
    def cloud_path(self) -> str | None:
        return self._cloud_path

    @cloud_path.setter
    def cloud_path(self, value: str | None) -> None:
        if value is None:
            if not self.exists_locally:
                raise CloudLocationNotSpecified(f"{self!r} only exists in the cloud; its cloud path cannot be unset.")
            self._cloud_path = None
            self._cloud_info = None
            return
        self.upload(value)

    @property
    def exists_in_cloud(self) -> bool:
        return self._cloud_path is not None

    @property
    def exists_locally(self) -> bool:
        return self._local_path is not None

    @property
    def is_url(self) -> bool:
        """True for a signed-URL (read-only) datafile."""
        return storage_path.is_url(self._cloud_path)

    @property
    def bucket_name(self) -> str | None:
        if storage_path.is_cloud_uri(self._cloud_path):
            return storage_path.split_bucket_name_from_cloud_path(self._cloud_path)[0]
        return None

    @property
    def path_in_bucket(self) -> str | None:
        if storage_path.is_cloud_uri(self._cloud_path):
            return storage_path.split_bucket_name_from_cloud_path(self._cloud_path)[1]
        return None

    @property
    def local_path(self) -> str:
        """The local copy's path, downloading the cloud file first if there is no local copy."""
        if self._local_path:
            return self._local_path
        return self.download()

    @local_path.setter
    def local_path(self, path: str) -> None:
        """Move the local copy: download the cloud file to `path`, or copy the current local file there."""
        if path is None:
            if not self.exists_in_cloud:
                raise CloudLocationNotSpecified(f"{self!r} only exists locally; its local path cannot be unset.")
            self._local_path = None
            return
        if os.path.exists(path):
            raise FileExistsError(f"Cannot move {self!r} to {path!r}: a file already exists there.")
        if self.exists_in_cloud:
            self.download(path)
            return
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        shutil.copy2(self._local_path, path)
        self._local_path = os.path.abspath(path)

    # --- sizes and hashes ---------------------------------------------------------------------------------

    @property
    def size_bytes(self) -> int | None:
        if self._local_path and os.path.exists(self._local_path):
            return os.path.getsize(self._local_path)
        info = self._get_cloud_info() if self._cloud_path else None
        return info.get("size") if info else None

    @property
    def cloud_hash_value(self) -> str | None:
        """The CRC32C Cloud Storage reports for the cloud file (no download), or None."""
        info = self._get_cloud_info() if self._cloud_path else None
        return info.get("crc32c") if info else None

    @property
    def hash_value(self) -> str:
        """CRC32C (base64) of the file's bytes: of the local copy if any, else as Cloud Storage reports it."""
        if self._local_path and os.path.exists(self._local_path):
            stat = os.stat(self._local_path)
            key = (self._local_path, stat.st_mtime_ns, stat.st_size)
            if self._hash_cache is None or self._hash_cache[0] != key:
                self._hash_cache = (key, hash_file(self._local_path))
            return self._hash_cache[1]
        return self.cloud_hash_value or EMPTY_HASH

    @property
    def metadata_hash_value(self) -> str:
        return hash_value(self.metadata(include_id=False, include_sdk_version=False, use_octue_namespace=False))

    # --- transfers ----------------------------------------------------------------------------------------

    def download(self, local_path: str | None = None) -> str:
        """Download the cloud file to `local_path` (default: a new path in the cache folder); return the path."""
        if not self.exists_in_cloud:
            raise CloudLocationNotSpecified(f"{self!r} is not in the cloud, so it cannot be downloaded.")
        if local_path is None and self._local_path is not None:
            return self._local_path
        target = os.path.abspath(local_path) if local_path else cache.new_file_path(self.name)
        if local_path is not None and target == self._local_path:
            return target
        if storage_path.is_url(self._cloud_path):
            info = urls.download(self._cloud_path, target)
            if self._cloud_info is None:
                self._cloud_info = info
        else:
            try:
                client.download_to_file(self._cloud_path, target)
            except FileNotFoundError:
                if not _MODIFYING_MODES.intersection(self._open_attributes.get("mode", "r")):
                    raise
                os.makedirs(os.path.dirname(target), exist_ok=True)
                open(target, "wb").close()
        self._local_path = target
        self._hash_cache = None
        return target

    def upload(self, cloud_path: str | None = None, update_cloud_metadata: bool = True) -> str:
        """Upload the file (and its metadata) to `cloud_path` (default: its current cloud path); return the path.

        Nothing is sent when the cloud copy already has the same CRC32C and metadata. A cloud file without a local
        copy is copied server-side.
        """
        target = cloud_path or self._cloud_path
        if target is None:
            raise CloudLocationNotSpecified(f"No cloud path was given to upload {self!r} to.")
        if storage_path.is_url(target):
            raise ReadOnlyResource(f"Cannot upload {self!r} to the URL {target!r}: URLs are read-only.")
        if not storage_path.is_cloud_uri(target):
            raise CloudLocationNotSpecified(f"Cannot upload {self!r} to {target!r}: it is not a gs:// path.")
        self._ensure_stored_metadata()
        metadata = self.metadata() if update_cloud_metadata else None
        source = self._cloud_path
        if target != source:
            if self._local_path is None and storage_path.is_cloud_uri(source):
                info = client.copy(source, target)
                if metadata and strip_namespace(info["custom_metadata"]) != strip_namespace(metadata):
                    client.overwrite_custom_metadata(target, metadata)
                    info["custom_metadata"] = serialisation.loads(serialisation.dumps(metadata))
            else:
                info = client.upload_file(self.local_path, target, metadata=metadata)
        else:
            # A listed cloud file without a local copy cannot have changed here: trust what the listing said.
            known = self._cloud_info if self._local_path is None and self._cloud_info else None
            existing = known if known is not None else client.get_metadata(target)
            if existing is None or (self._local_path and existing.get("crc32c") != self.hash_value):
                info = client.upload_file(self.local_path, target, metadata=metadata)
            else:
                info = existing
                if metadata and _comparable(strip_namespace(existing["custom_metadata"])) != _comparable(
                    strip_namespace(metadata)
                ):
                    client.overwrite_custom_metadata(target, metadata)
                    info["custom_metadata"] = serialisation.loads(serialisation.dumps(metadata))
        self._cloud_path = target
        self._cloud_info = info
        self._stored_loaded = True
        return target

    def generate_signed_url(
        self, expiration: datetime.timedelta | datetime.datetime = datetime.timedelta(days=7)
    ) -> str:
        """A signed URL to read the cloud file (default expiry 7 days). A URL datafile returns its URL."""
        if storage_path.is_url(self._cloud_path):
            return self._cloud_path
        if not storage_path.is_cloud_uri(self._cloud_path):
            raise CloudLocationNotSpecified(f"{self!r} must be in the cloud to get a signed URL; upload it first.")
        return client.generate_signed_url(self._cloud_path, expiration=expiration)

    # --- stored metadata ----------------------------------------------------------------------------------

    def update_metadata(self) -> None:
        """Write the in-memory metadata where the file lives (cloud custom metadata, or the local `.octue`)."""
        if self.exists_in_cloud:
            self.update_cloud_metadata()
        else:
            self.update_local_metadata()

    def update_cloud_metadata(self) -> None:
        if not storage_path.is_cloud_uri(self._cloud_path):
            if self.is_url:
                raise ReadOnlyResource(f"{self!r} is a signed-URL datafile: its metadata is read-only.")
            raise CloudLocationNotSpecified(f"{self!r} is not in the cloud.")
        self._ensure_stored_metadata()
        metadata = self.metadata()
        client.overwrite_custom_metadata(self._cloud_path, metadata)
        if self._cloud_info is not None:
            self._cloud_info["custom_metadata"] = serialisation.loads(serialisation.dumps(metadata))

    def update_local_metadata(self) -> None:
        """Record the metadata in the `.octue` file of the local copy's folder (Octue's shape)."""
        if not self._local_path:
            raise CloudLocationNotSpecified(f"{self!r} has no local copy to record metadata beside.")
        entry = self.metadata(use_octue_namespace=False)
        name = self.name  # Octue keys the entry by the datafile name

        def change(records: dict) -> None:
            records.setdefault("datafiles", {})
            if not isinstance(records["datafiles"], dict):
                records["datafiles"] = {}
            records["datafiles"][name] = serialisation.to_json_compatible(entry)

        local_metadata.update(local_metadata.metadata_path_for_directory(os.path.dirname(self._local_path)), change)

    @property
    def metadata_path(self) -> str | None:
        if not self._local_path:
            return None
        return local_metadata.metadata_path_for_directory(os.path.dirname(self._local_path))

    # --- reading and writing ------------------------------------------------------------------------------

    def open(self, mode: str = "r", update_metadata: bool = True, **kwargs: Any) -> "_OpenDatafile":
        """Open like the builtin `open` (as a context manager); written cloud files are uploaded on close."""
        return _OpenDatafile(self, mode=mode, update_metadata=update_metadata, **kwargs)

    def __enter__(self) -> tuple:
        self._open_context = self.open(**self._open_attributes)
        return self, self._open_context.__enter__()

    def __exit__(self, *args: Any) -> None:
        context = self.__dict__.pop("_open_context", None)
        if context is not None:
            context.__exit__(*args)

    # --- serialisation ------------------------------------------------------------------------------------

    def to_primitive(self) -> dict:
        """`{"id","name","path","timestamp","tags","labels","cloud_path","local_path"}` (timestamp as datetime)."""
        return {
            "id": self.id,
            "name": self.name,
            "path": self.path,
            "timestamp": self.timestamp,
            "tags": dict(self.tags),
            "labels": sorted(self.labels),
            "cloud_path": self._cloud_path,
            "local_path": self._local_path,
        }

    def serialise(self, **kwargs: Any) -> str:
        """JSON text (keys sorted, indent 4, like Octue)."""
        return serialisation.serialise(self, **kwargs)

    @classmethod
    def deserialise(cls, serialised: Any, from_string: bool = False) -> "Datafile":
        """A Datafile from `to_primitive()` output (dict) or its JSON (`from_string=True`)."""
        if from_string or isinstance(serialised, (str, bytes)):
            serialised = serialisation.loads(serialised)
        data = dict(serialised)
        data.pop("_cloud_metadata", None)
        cloud = data.pop("cloud_path", None)
        local = data.pop("local_path", None)
        path = data.pop("path", None)
        if cloud:
            return cls(path=cloud, local_path=local if local and os.path.exists(local) else None, **data)
        return cls(path=local or path, **data)

    from_primitive = deserialise

    def __repr__(self) -> str:
        return f"<Datafile({self.name!r})>"

    def __lt__(self, other: "Datafile") -> bool:
        if not isinstance(other, Datafile):
            return NotImplemented
        return self.name < other.name

    def __gt__(self, other: "Datafile") -> bool:
        if not isinstance(other, Datafile):
            return NotImplemented
        return self.name > other.name


def _comparable(metadata: dict) -> dict:
    metadata = dict(metadata)
    metadata.pop("sdk_version", None)
    return serialisation.to_json_compatible(metadata)


class _OpenDatafile:
    """The context manager returned by `Datafile.open(mode)`."""

    def __init__(self, datafile: Datafile, mode: str = "r", update_metadata: bool = True, **kwargs: Any):
        self.datafile = datafile
        self.mode = mode
        self.update_metadata = update_metadata
        self.kwargs = kwargs
        self._file: Any = None
        datafile._open_attributes["mode"] = mode

    @property
    def modifies(self) -> bool:
        return bool(_MODIFYING_MODES.intersection(self.mode))

    def __enter__(self) -> Any:
        datafile = self.datafile
        if self.modifies:
            if datafile.is_url:
                raise ReadOnlyResource(
                    f"{datafile!r} is a signed-URL datafile and is read-only; open it with mode 'r' or upload a copy."
                )
            if datafile._local_path is None and "w" in self.mode:
                datafile._local_path = cache.new_file_path(datafile.name)
            os.makedirs(os.path.dirname(datafile.local_path), exist_ok=True)
        self._file = open(datafile.local_path, self.mode, **self.kwargs)
        return self._file

    def __exit__(self, exc_type: Any, *args: Any) -> None:
        if self._file is not None:
            self._file.close()
        if not self.modifies or exc_type is not None:
            return
        if self.datafile.exists_in_cloud:
            self.datafile.upload(update_cloud_metadata=self.update_metadata)
        elif self.update_metadata:
            self.datafile.update_local_metadata()
