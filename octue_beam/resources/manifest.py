"""Manifest: named datasets (`{"id", "name", "datasets": {key: path-or-dataset}}`), as in Octue.

A dataset serialises as its path string, unless it was built from a list of files, in which case it serialises as
a dataset object (as Octue does), so manifests written by Octue 0.69 deserialise here and back unchanged.
"""

import datetime
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from octue_beam import serialisation
from octue_beam.exceptions import InvalidInputException, InvalidManifestJson, InvalidManifestType
from octue_beam.resources import cache, urls
from octue_beam.resources.datafile import check_id
from octue_beam.resources.dataset import Dataset
from octue_beam.resources.hashing import hash_strings
from octue_beam.resources.security import check_remote_manifest, check_remote_primitive
from octue_beam.resources.transfers import run_in_threads
from octue_beam.storage import client
from octue_beam.storage import path as storage_path

logger = logging.getLogger(__name__)

_update_lock = threading.Lock()


class _HybridMethod:
    """A method that works on the class (receiving a fresh instance) and on an instance."""

    def __init__(self, function: Callable):
        self.function = function
        self.__doc__ = function.__doc__

    def __get__(self, instance: Any, owner: type) -> Callable:
        target = instance if instance is not None else None

        def bound(*args: Any, **kwargs: Any) -> Any:
            return self.function(target if target is not None else owner(), *args, **kwargs)

        bound.__doc__ = self.function.__doc__
        return bound


class Manifest:
    """Named datasets. `Manifest(datasets=None, ignore_stored_metadata=False, id=None, name=None)` as in Octue;
    `datasets` maps keys to Datasets, dataset paths (local, `gs://`, signed URL) or serialised datasets."""

    def __init__(self, datasets: Any = None, ignore_stored_metadata: bool = False, id: Any = None,
                 name: str | None = None, **kwargs: Any):
        if kwargs:
            logger.debug("Ignoring unknown manifest fields %s.", sorted(kwargs))
        self.id = check_id(id)
        self.name = name
        self._ignore_stored_metadata = ignore_stored_metadata
        self.datasets: dict[str, Dataset] = self._instantiate_datasets(datasets or {})

    def _instantiate_datasets(self, datasets: Any) -> dict:
        if not isinstance(datasets, dict):
            raise InvalidManifestType(
                f"A manifest's datasets must be an object mapping keys to datasets; got {type(datasets).__name__}."
            )
        items = list(datasets.items())
        slow = [item for item in items if self._is_remote(item[1])]
        if len(slow) > 1:
            built = dict(run_in_threads(self._instantiate_dataset, items, "Reading datasets"))
        else:
            built = dict(self._instantiate_dataset(item) for item in items)
        return {key: built[key] for key, _ in items}

    @staticmethod
    def _is_remote(dataset: Any) -> bool:
        path = dataset if isinstance(dataset, str) else dataset.get("path") if isinstance(dataset, dict) else None
        return storage_path.is_cloud_path(path)

    def _instantiate_dataset(self, key_and_dataset: tuple) -> tuple:
        key, dataset = key_and_dataset
        if isinstance(dataset, Dataset):
            return key, dataset
        if isinstance(dataset, (str, os.PathLike)):
            return key, Dataset(
                path=os.fspath(dataset), recursive=True, ignore_stored_metadata=self._ignore_stored_metadata
            )
        if isinstance(dataset, dict):
            known = {k: dataset[k] for k in ("id", "name", "tags", "labels", "path", "files") if k in dataset}
            return key, Dataset(**known, recursive=True, ignore_stored_metadata=self._ignore_stored_metadata)
        raise InvalidManifestType(
            f"Dataset {key!r} must be a Dataset, a path or a serialised dataset; got {dataset!r}."
        )

    # --- construction from JSON --------------------------------------------------------------------------

    @classmethod
    def from_primitive(cls, obj: Any, remote: bool = False, allow_local_paths: bool = False) -> "Manifest":
        """A Manifest from its JSON form (dict or JSON string) or a Manifest.

        With `remote=True` (manifests that arrive in questions) everything is checked before anything is read:
        only `gs://` and `https://` data, no `..`, no local paths unless `allow_local_paths`; else UnsafePath.
        """
        if isinstance(obj, Manifest):
            if remote:
                check_remote_manifest(obj, allow_local_paths=allow_local_paths)
            return obj
        if isinstance(obj, (str, bytes)):
            try:
                obj = serialisation.loads(obj)
            except ValueError as error:
                raise InvalidManifestJson(f"The manifest is not valid JSON: {error}") from error
        if not isinstance(obj, dict):
            raise InvalidManifestType(f"A manifest must be a JSON object; got {type(obj).__name__}.")
        if remote:
            check_remote_primitive(obj, allow_local_paths=allow_local_paths)
        manifest = cls(datasets=obj.get("datasets"), id=obj.get("id"), name=obj.get("name"))
        if remote:
            check_remote_manifest(manifest, allow_local_paths=allow_local_paths)
        return manifest

    @classmethod
    def deserialise(cls, serialised: Any, from_string: bool = False) -> "Manifest":
        """Octue's spelling: from a dict, or from a JSON string with `from_string=True`."""
        return cls.from_primitive(serialised)

    @classmethod
    def from_file(cls, path: str) -> "Manifest":
        with open(path) as f:
            return cls.from_primitive(f.read())

    @classmethod
    def from_cloud(cls, cloud_path: str, ignore_stored_metadata: bool = False) -> "Manifest":
        """A manifest from its JSON stored in Cloud Storage (or behind a signed URL)."""
        if storage_path.is_url(cloud_path):
            primitive = urls.get_json(cloud_path)
        else:
            primitive = client.download_json(cloud_path)
        return cls(
            datasets=primitive.get("datasets"),
            id=primitive.get("id"),
            name=primitive.get("name"),
            ignore_stored_metadata=ignore_stored_metadata,
        )

    def to_cloud(self, cloud_path: str) -> str:
        """Store the serialised manifest in Cloud Storage; returns the path."""
        client.upload_bytes(self.serialise(), cloud_path, content_type="application/json")
        return cloud_path

    # --- datasets --------------------------------------------------------------------------------------

    def get_dataset(self, key: str) -> Dataset:
        """The dataset with this key (InvalidInputException listing the keys if absent)."""
        dataset = self.datasets.get(key)
        if dataset is None:
            raise InvalidInputException(
                f"The manifest has no dataset {key!r}; its datasets are {sorted(self.datasets)}."
            )
        return dataset

    @_HybridMethod
    def prepare(self, datasets: Any) -> "Manifest":
        """Add one empty dataset per key, each in a new local folder of the cache (for an output manifest).

        `datasets` is a list of keys, a dict keyed by dataset key, or a manifest strand (`{"datasets": {...}}`).
        Works on an instance (must be empty) or on the class (`Manifest.prepare(["key"])` makes a new manifest).
        """
        if self.datasets:
            raise InvalidInputException("Only an empty manifest can be prepared; this one already has datasets.")
        if isinstance(datasets, dict) and "datasets" in datasets and isinstance(datasets["datasets"], (dict, list)):
            datasets = datasets["datasets"]
        keys = list(datasets)
        if keys and isinstance(keys[0], dict):
            keys = [item["key"] for item in keys]
        for key in keys:
            self.datasets[key] = Dataset(path=cache.new_directory(str(key).replace("/", "_")), name=key)
            self.datasets[key]._instantiated_from_files_argument = False
        return self

    @property
    def all_datasets_are_in_cloud(self) -> bool:
        return all(dataset.all_files_are_in_cloud for dataset in self.datasets.values())

    def download(self, paths: dict | None = None, download_all: bool = True) -> dict:
        """Download the cloud datasets; returns `{key: local folder}` (default folders in the cache)."""
        if paths is None:
            paths, download_all = {}, True
        root = cache.new_directory("datasets")
        for key, dataset in self.datasets.items():
            target = paths.get(key)
            if not target and not download_all:
                continue
            target = target or storage_path.safe_local_join(root, key, "dataset key")
            paths[key] = dataset.download(local_directory=target)
        return paths

    def update_dataset_paths(self, path_generator: Callable[[Dataset], str]) -> None:
        """Set each dataset's path to `path_generator(dataset)` (thread-safe)."""
        with _update_lock:
            for dataset in self.datasets.values():
                dataset.path = path_generator(dataset)

    def use_signed_urls_for_datasets(self, expiration: datetime.timedelta = datetime.timedelta(days=7)) -> None:
        """Replace `gs://` dataset paths with signed URLs (idempotent; local and URL datasets unchanged)."""

        def sign(dataset: Dataset) -> str:
            if storage_path.is_cloud_uri(dataset.path):
                return dataset.generate_signed_url(expiration=expiration)
            return dataset.path

        self.update_dataset_paths(sign)

    # --- hashes and serialisation ------------------------------------------------------------------------

    @property
    def hash_value(self) -> str:
        return hash_strings(sorted(dataset.hash_value for dataset in self.datasets.values()))

    def to_primitive(self) -> dict:
        """`{"id", "name", "datasets": {key: path | dataset object}}`."""
        datasets = {}
        for key, dataset in self.datasets.items():
            if dataset._instantiated_from_files_argument:
                datasets[key] = dataset.to_primitive()
            else:
                datasets[key] = dataset.path
        return {"id": self.id, "name": self.name, "datasets": datasets}

    def serialise(self, **kwargs: Any) -> str:
        """JSON text (keys sorted, indent 4, like Octue)."""
        return serialisation.serialise(self, **kwargs)

    def to_file(self, path: str) -> None:
        with open(path, "w") as f:
            f.write(self.serialise())

    def __repr__(self) -> str:
        return f"<Manifest({self.id}: {sorted(self.datasets)})>"
