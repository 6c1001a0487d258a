"""Dataset: a set of datafiles from a local folder, a `gs://` prefix, a signed-URL dataset, or a list of files.

`files` is a FilterSet (filter, one, order_by). Dataset metadata is `id`, `name`, `tags` and `labels`, stored in the
dataset folder's `.octue` file (locally `{"dataset": {...}, "datafiles": {...}}`, in the cloud `{"dataset": {...}}`),
as Octue does. Building from a folder reads each sub-folder's `.octue` once; building from a `gs://` prefix makes
one (paginated) listing that already carries every file's metadata and CRC32C.
"""

import datetime
import logging
import os
import threading
import uuid
from collections.abc import Iterable
from typing import Any

from octue_beam import __version__, serialisation
from octue_beam.exceptions import CloudLocationNotSpecified, InvalidInputException, ReadOnlyResource
from octue_beam.resources import cache, local_metadata, urls
from octue_beam.resources.datafile import Datafile, check_id
from octue_beam.resources.filters import FilterSet
from octue_beam.resources.hashing import hash_strings
from octue_beam.resources.labels import LabelSet
from octue_beam.resources.tags import TagDict
from octue_beam.resources.transfers import run_in_threads
from octue_beam.storage import client
from octue_beam.storage import path as storage_path

logger = logging.getLogger(__name__)

METADATA_FILENAME = local_metadata.METADATA_FILENAME
SIGNED_METADATA_DIRECTORY = ".signed_metadata_files"
FILES_METADATA_KEY = "files_metadata"  # octue_beam's addition to signed dataset documents (Octue ignores it)


class Dataset:
    """A set of datafiles with metadata.

    `Dataset(path=None, files=None, recursive=True, ignore_stored_metadata=False, include_octue_metadata_files=False,
    id=None, name=None, tags=None, labels=None)` as in Octue.
    """

    _METADATA_ATTRIBUTES = ("id", "name", "tags", "labels")

    def __init__(
        self,
        path: str | None = None,
        files: Iterable | None = None,
        recursive: bool = True,
        ignore_stored_metadata: bool = False,
        include_octue_metadata_files: bool = False,
        id: Any = None,
        name: str | None = None,
        tags: Any = None,
        labels: Any = None,
    ):
        self._id = check_id(id)
        self._name = name
        self.tags = TagDict(tags)
        self.labels = LabelSet(labels)
        self.path = os.fspath(path) if path is not None else os.getcwd()
        self._recursive = recursive
        self._ignore_stored_metadata = ignore_stored_metadata
        self._include_octue_metadata_files = include_octue_metadata_files
        self._files = FilterSet()
        self._pending_lock = threading.Lock()
        self._pending_metadata = False
        self._cloud_metadata: dict = {}
        self._instantiated_from_files_argument = False

        if files is not None and (isinstance(files, (str, dict)) or not hasattr(files, "__iter__")):
            raise InvalidInputException(f"`files` must be an iterable of Datafiles, paths or dicts; got {files!r}.")
        if files:
            self._directory_records: dict = {}
            self._files = FilterSet(self._instantiate_datafile(file) for file in files)
            del self._directory_records
            self._pending_metadata = any(not file._stored_loaded for file in self._files)
            self._instantiated_from_files_argument = True
            return
        if files is not None and path is None:
            self._instantiated_from_files_argument = True
            return
        if storage_path.is_url(self.path):
            self._instantiate_from_url()
        elif storage_path.is_cloud_uri(self.path):
            self._instantiate_from_cloud()
        else:
            self._instantiate_from_local_directory()

    # --- construction ---------------------------------------------------------------------------------

    def _instantiate_datafile(self, file: Any) -> Datafile:
        if isinstance(file, Datafile):
            return file
        if isinstance(file, (str, os.PathLike)):
            file = os.fspath(file)
            records = getattr(self, "_directory_records", None)
            if records is not None and not self._ignore_stored_metadata and not storage_path.is_cloud_path(file):
                # Read each folder's `.octue` once for the whole list of files.
                file = os.path.abspath(file)
                directory, name = os.path.split(file)
                if directory not in records:
                    records[directory] = (
                        local_metadata.load(os.path.join(directory, METADATA_FILENAME)).get("datafiles") or {}
                    )
                return Datafile(file, _stored_metadata=records[directory].get(name) or {})
            return Datafile(file, ignore_stored_metadata=self._ignore_stored_metadata)
        if isinstance(file, dict):
            return Datafile.deserialise(file)
        raise InvalidInputException(
            f"A dataset file must be a Datafile, a path or a serialised datafile; got {file!r}."
        )

    def _instantiate_from_local_directory(self) -> None:
        root = os.path.abspath(self.path)
        files = []
        ignore = self._ignore_stored_metadata
        for directory, subdirectories, filenames in os.walk(root):
            if not self._recursive:
                subdirectories[:] = []
            records = (
                {} if ignore else local_metadata.load(os.path.join(directory, METADATA_FILENAME)).get("datafiles") or {}
            )
            for filename in filenames:
                if filename == METADATA_FILENAME and not self._include_octue_metadata_files:
                    continue
                files.append(
                    Datafile(
                        os.path.join(directory, filename),
                        ignore_stored_metadata=ignore,
                        _stored_metadata=records.get(filename) or {},
                    )
                )
        self._files = FilterSet(files)
        if not ignore:
            self._set_metadata(local_metadata.dataset_metadata(root))
        if not files:
            logger.debug("%r is empty (path %r).", self, self.path)

    def _instantiate_from_cloud(self) -> None:
        if not self._ignore_stored_metadata:
            try:
                self._cloud_metadata = (client.download_json(self.metadata_path) or {}).get("dataset") or {}
            except FileNotFoundError:
                self._cloud_metadata = {}
            self._set_metadata(self._cloud_metadata)
            if self._files:
                return

        def keep(relative_name: str) -> bool:
            if (
                relative_name.startswith(SIGNED_METADATA_DIRECTORY + "/")
                or f"/{SIGNED_METADATA_DIRECTORY}/" in relative_name
            ):
                return False
            return self._include_octue_metadata_files or not relative_name.endswith(METADATA_FILENAME)

        self._files = FilterSet(
            Datafile.from_cloud_info(info, ignore_stored_metadata=self._ignore_stored_metadata)
            for info in client.list_objects(self.path, recursive=self._recursive, filter=keep)
        )

    def _instantiate_from_url(self) -> None:
        document = urls.get_json(self.path)
        if not isinstance(document, dict) or not isinstance(document.get("files", []), list):
            raise InvalidInputException(
                f"The signed-URL dataset at {storage_path.strip_query(self.path)!r} is not a dataset document."
            )
        self._cloud_metadata = document
        self._set_metadata(document, include_files=False)
        files_metadata = document.get(FILES_METADATA_KEY)
        files = []
        for index, url in enumerate(document.get("files", [])):
            if not isinstance(url, str) or not storage_path.is_url(url):
                raise InvalidInputException(f"A file of the signed-URL dataset is not a URL: {url!r}.")
            known = files_metadata[index] if isinstance(files_metadata, list) and index < len(files_metadata) else None
            if isinstance(known, dict):
                if known.get("path_in_dataset") is not None:
                    storage_path.check_relative_path(known["path_in_dataset"], f"path in dataset of file {index}")
                info = {
                    "cloud_path": url,
                    "custom_metadata": {
                        f"octue__{key}": known.get(key) for key in ("id", "timestamp", "tags", "labels") if key in known
                    },
                    "crc32c": known.get("crc32c"),
                    "size": known.get("size"),
                    "updated": None,
                    "time_created": None,
                    "path_in_dataset": known.get("path_in_dataset"),
                }
                datafile = Datafile.from_cloud_info(info, ignore_stored_metadata=self._ignore_stored_metadata)
            else:
                datafile = Datafile(url, ignore_stored_metadata=self._ignore_stored_metadata)
            files.append(datafile)
        self._files = FilterSet(files)
        self._pending_metadata = any(not file._stored_loaded for file in files)

    def _set_metadata(self, metadata: dict, include_files: bool = True) -> None:
        if not metadata:
            return
        if include_files and metadata.get("files"):
            self._files = FilterSet(self._instantiate_datafile(file) for file in metadata["files"])
            self._pending_metadata = any(not file._stored_loaded for file in self._files)
        if metadata.get("id") is not None:
            self._id = check_id(metadata["id"])
        if metadata.get("name") is not None:
            self._name = metadata["name"]
        if metadata.get("tags") is not None:
            self.tags = TagDict(metadata["tags"])
        if metadata.get("labels") is not None:
            self.labels = LabelSet(metadata["labels"])

    # --- files ----------------------------------------------------------------------------------------

    @property
    def files(self) -> FilterSet:
        """The dataset's datafiles (a FilterSet). Cloud metadata of listed files is fetched in one go first."""
        if self._pending_metadata:
            self._prefetch_metadata()
        return self._files

    @files.setter
    def files(self, files: Iterable) -> None:
        self._files = FilterSet(self._instantiate_datafile(file) for file in files)
        self._pending_metadata = any(not file._stored_loaded for file in self._files)

    def _prefetch_metadata(self) -> None:
        """Load the stored metadata of cloud files given by path: one listing of the dataset's prefix when they are
        all under it, else in parallel threads (one request per file)."""
        with self._pending_lock:
            if not self._pending_metadata:
                return
            pending = [file for file in self._files if not file._stored_loaded]
            under_prefix = storage_path.is_cloud_uri(self.path) and all(
                storage_path.is_cloud_uri(file.cloud_path) and file.cloud_path.startswith(self.path.rstrip("/") + "/")
                for file in pending
            )
            if under_prefix and len(pending) > 1:
                listed = {info["cloud_path"]: info for info in client.list_objects(self.path, recursive=True)}
                for file in pending:
                    info = listed.get(file.cloud_path)
                    if info is not None:
                        file._cloud_info = info
            run_in_threads(lambda file: file._ensure_stored_metadata(), pending, "Reading metadata")
            self._pending_metadata = False

    def __iter__(self):
        return iter(self.files)

    def __len__(self) -> int:
        return len(self._files)

    def __contains__(self, item: Any) -> bool:
        return item in self._files

    def get_file_by_label(self, label: str) -> Datafile:
        """The only file with this label (UnexpectedNumberOfResultsException if none or several)."""
        return self.files.one(labels__contains=label)

    # --- metadata ---------------------------------------------------------------------------------------

    @property
    def id(self) -> str:
        return self._id

    @property
    def name(self) -> str:
        if self._name:
            return self._name
        if storage_path.is_url(self.path):
            return storage_path.name_of(self.path)
        if storage_path.is_cloud_uri(self.path):
            return storage_path.name_of(self.path.rstrip("/"))
        return os.path.basename(os.path.abspath(self.path))

    @name.setter
    def name(self, value: str | None) -> None:
        self._name = value

    @property
    def tags(self) -> TagDict:
        return self._tags

    @tags.setter
    def tags(self, value: Any) -> None:
        self._tags = TagDict(value)

    @property
    def labels(self) -> LabelSet:
        return self._labels

    @labels.setter
    def labels(self, value: Any) -> None:
        self._labels = LabelSet(value)

    def metadata(self, include_id: bool = True, include_sdk_version: bool = True, **kwargs: Any) -> dict:
        metadata: dict[str, Any] = {"id": self.id, "name": self.name, "tags": self.tags, "labels": self.labels}
        if not include_id:
            del metadata["id"]
        if include_sdk_version:
            metadata["sdk_version"] = __version__
        return metadata

    @property
    def exists_in_cloud(self) -> bool:
        return storage_path.is_cloud_path(self.path)

    @property
    def exists_locally(self) -> bool:
        return not self.exists_in_cloud

    @property
    def all_files_are_in_cloud(self) -> bool:
        return all(file.exists_in_cloud for file in self._files)

    @property
    def metadata_path(self) -> str:
        if storage_path.is_url(self.path):
            return self.path
        if storage_path.is_cloud_uri(self.path):
            return storage_path.join(self.path, METADATA_FILENAME)
        return os.path.join(self.path, METADATA_FILENAME)

    def update_metadata(self) -> None:
        """Write the dataset's metadata where it lives (cloud `.octue` object or local `.octue` file)."""
        if self.exists_in_cloud:
            self.update_cloud_metadata()
        else:
            self.update_local_metadata()

    def update_cloud_metadata(self) -> None:
        if storage_path.is_url(self.path):
            raise ReadOnlyResource(f"{self!r} is a signed-URL dataset: its metadata is read-only.")
        if not storage_path.is_cloud_uri(self.path):
            raise CloudLocationNotSpecified(f"{self!r} is not in the cloud.")
        document = {"dataset": self.to_primitive(include_files=False)}
        client.upload_bytes(serialisation.dumps(document), self.metadata_path, content_type="application/json")
        self._cloud_metadata = document["dataset"]

    def update_local_metadata(self) -> None:
        """Record the dataset's metadata in its folder's `.octue` file (Octue's shape)."""
        entry = serialisation.to_json_compatible(self.to_primitive(include_files=False))

        def change(records: dict) -> None:
            records["dataset"] = entry

        os.makedirs(self.path, exist_ok=True)
        local_metadata.update(self.metadata_path, change)

    def __enter__(self) -> "Dataset":
        return self

    def __exit__(self, *args: Any) -> None:
        self.update_metadata()

    # --- relative paths ---------------------------------------------------------------------------------

    def _relative_path(self, datafile: Datafile) -> str:
        """Where a file sits inside the dataset (`sub/name.csv`); its name when it is not under the dataset path."""
        info = datafile._cloud_info or {}
        if info.get("path_in_dataset"):
            return storage_path.check_relative_path(info["path_in_dataset"], "path in dataset")
        if datafile.exists_in_cloud and storage_path.is_cloud_path(self.path):
            base = self.path
            if storage_path.is_url(base):
                base = storage_path.strip_query(base).split("/" + SIGNED_METADATA_DIRECTORY)[0]
            file_path = datafile.cloud_path
            if storage_path.is_url(file_path) and storage_path.is_url(base):
                relative = storage_path.relpath(file_path, base)
            elif storage_path.is_cloud_uri(file_path) and storage_path.is_cloud_uri(base):
                relative = storage_path.relpath(file_path, base)
            else:
                relative = datafile.name
        elif datafile.exists_locally and not storage_path.is_cloud_path(self.path):
            relative = os.path.relpath(datafile._local_path, os.path.abspath(self.path)).replace(os.sep, "/")
        else:
            relative = datafile.name
        if relative.startswith("../") or relative == ".." or os.path.isabs(relative):
            relative = datafile.name
        return storage_path.check_relative_path(relative, "path in dataset")

    # --- transfers ----------------------------------------------------------------------------------------

    def upload(self, cloud_path: str | None = None, update_cloud_metadata: bool = True) -> str:
        """Upload every file (in parallel threads) under `cloud_path` (default: the dataset's path), keeping their
        paths relative to the dataset, then its metadata; the dataset's path becomes `cloud_path`."""
        target = cloud_path or self.path
        if not storage_path.is_cloud_uri(target):
            raise CloudLocationNotSpecified(f"Cannot upload {self!r} to {target!r}: give a gs:// path.")
        target = target.rstrip("/")
        jobs = [(file, storage_path.join(target, self._relative_path(file))) for file in self._files]
        run_in_threads(
            lambda job: job[0].upload(job[1], update_cloud_metadata=update_cloud_metadata), jobs, "Uploading"
        )
        self.path = target
        if update_cloud_metadata:
            self.update_cloud_metadata()
        return target

    def download(self, local_directory: str | None = None) -> str:
        """Download every cloud file (in parallel threads) into `local_directory` (default: a new cache folder),
        keeping paths relative to the dataset; refuses paths that would leave that folder. Returns the folder."""
        if not self.exists_in_cloud:
            raise CloudLocationNotSpecified(
                f"{self!r} is local (path {self.path!r}); only cloud datasets can be downloaded."
            )
        directory = (
            os.path.abspath(local_directory) if local_directory else cache.new_directory(_safe_folder_name(self.name))
        )
        os.makedirs(directory, exist_ok=True)
        jobs = []
        for file in self.files:
            if not file.exists_in_cloud:
                continue
            jobs.append((file, storage_path.safe_local_join(directory, self._relative_path(file), f"path of {file!r}")))
        run_in_threads(lambda job: job[0].download(job[1]), jobs, "Downloading")
        return directory

    def add(self, datafile: Datafile, path_in_dataset: str | None = None) -> None:
        """Add a datafile, copying/uploading it into the dataset (at `path_in_dataset` if given) when it lies
        outside the dataset's folder."""
        if not isinstance(datafile, Datafile):
            raise InvalidInputException(f"Only Datafiles can be added to a dataset; got {datafile!r}.")
        relative = storage_path.check_relative_path(path_in_dataset or datafile.name, "path in dataset")
        if storage_path.is_url(self.path):
            raise ReadOnlyResource(f"{self!r} is a signed-URL dataset and is read-only.")
        if storage_path.is_cloud_uri(self.path):
            prefix = self.path.rstrip("/") + "/"
            new_cloud_path = storage_path.join(self.path, relative)
            if not (
                datafile.cloud_path
                and (datafile.cloud_path == new_cloud_path or datafile.cloud_path.startswith(prefix))
            ):
                datafile.upload(new_cloud_path)
        else:
            root = os.path.abspath(self.path)
            new_local_path = storage_path.safe_local_join(root, relative, "path in dataset")
            if datafile.exists_locally:
                current = datafile._local_path
                if (
                    current != new_local_path
                    and not current.startswith(os.path.realpath(root) + os.sep)
                    and not current.startswith(root + os.sep)
                ):
                    datafile.local_path = new_local_path
            else:
                datafile.download(new_local_path)
        self._files.add(datafile)

    def generate_signed_url(
        self, expiration: datetime.timedelta | datetime.datetime = datetime.timedelta(days=7)
    ) -> str:
        """A signed URL to a JSON document describing the dataset with signed URLs to its files (Octue's format,
        plus each file's metadata so readers need no request per file)."""
        if storage_path.is_url(self.path):
            return self.path
        if not storage_path.is_cloud_uri(self.path) or not self.all_files_are_in_cloud:
            raise CloudLocationNotSpecified(f"{self!r} must be uploaded to Cloud Storage before it can be signed.")
        files = sorted(self.files, key=lambda file: file.cloud_path)
        file_urls = run_in_threads(lambda file: file.generate_signed_url(expiration=expiration), files, "Signing")
        document = self.to_primitive(include_files=False)
        document["files"] = file_urls
        document[FILES_METADATA_KEY] = [
            {
                "id": file.id,
                "timestamp": file.timestamp,
                "tags": dict(file.tags),
                "labels": file.labels,
                "crc32c": file.cloud_hash_value,
                "size": (file._cloud_info or {}).get("size"),
                "path_in_dataset": self._relative_path(file),
            }
            for file in files
        ]
        document_path = storage_path.join(self.path, SIGNED_METADATA_DIRECTORY, uuid.uuid4().hex)
        client.upload_bytes(serialisation.dumps(document), document_path, content_type="application/json")
        return client.generate_signed_url(document_path, expiration=expiration)

    # --- hashes and serialisation ---------------------------------------------------------------------------

    @property
    def hash_value(self) -> str:
        """CRC32C over the sorted hashes of the files."""
        return hash_strings(sorted(file.hash_value for file in self.files))

    def file_paths(self) -> list[str]:
        """Sorted paths of the files (cloud path if in the cloud, else local path)."""
        return sorted(file._cloud_path or file._local_path for file in self._files)

    def to_primitive(self, include_files: bool = True) -> dict:
        """`{"id","name","tags","labels","path","files": [sorted paths]}`."""
        primitive: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "tags": dict(self.tags),
            "labels": sorted(self.labels),
            "path": self.path,
        }
        if include_files:
            primitive["files"] = self.file_paths()
        return primitive

    def serialise(self, **kwargs: Any) -> str:
        return serialisation.serialise(self, **kwargs)

    @classmethod
    def deserialise(cls, serialised: Any, from_string: bool = False) -> "Dataset":
        if from_string or isinstance(serialised, (str, bytes)):
            serialised = serialisation.loads(serialised)
        return cls(**serialised)

    from_primitive = deserialise

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_pending_lock", None)  # locks cannot be pickled (e.g. by Beam)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._pending_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<Dataset({self.name!r})>"


def _safe_folder_name(name: str) -> str:
    cleaned = "".join(character if character.isalnum() or character in "-_." else "_" for character in name or "")
    return cleaned.strip(".") or "dataset"
