"""Input manifests given on the command line (`run --ask-manifest`, `ask --input-manifest`) that name local datasets.

A service reads only datasets in Cloud Storage from a question (a local path in a question is refused with
`UnsafePath`: the service must not read the asker's disk). On a local run the storage emulator is Cloud Storage, so
the commands upload each local dataset there first, under `gs://<bucket>/inputs/<uuid>/<dataset key>`, say so on
stderr, and send the manifest with those `gs://` paths. Relative dataset paths are relative to the current folder,
as in `ask-local`.
"""

import os
import sys
import uuid
from typing import Any

from octue_beam.cli.arguments import CommandError
from octue_beam.environment import LOCAL_BUCKET
from octue_beam.resources import Manifest
from octue_beam.storage import client
from octue_beam.storage.path import is_cloud_path


def local_dataset_keys(manifest: Any) -> list[str]:
    """The keys of the datasets of a manifest (JSON form) that name local folders or files, read from the JSON
    alone (nothing is fetched)."""
    datasets = manifest.get("datasets") if isinstance(manifest, dict) else None
    if not isinstance(datasets, dict):
        return []
    return [key for key, dataset in datasets.items() if any(not is_cloud_path(path) for path in _paths(dataset))]


def _paths(dataset: Any) -> list[Any]:
    """The paths a dataset's JSON form names: its own path, else those of its files."""
    if isinstance(dataset, dict):
        if dataset.get("path") is not None:
            return [dataset["path"]]
        files = dataset.get("files") or []
        return [file.get("path") if isinstance(file, dict) else file for file in files]
    return [dataset]


def upload_local_datasets(manifest: Any, option: str, bucket: str = LOCAL_BUCKET) -> Any:
    """The manifest (JSON form) with its local datasets uploaded to the storage emulator at
    `$STORAGE_EMULATOR_HOST` (in `bucket`, created if missing) and named by their `gs://` paths; unchanged when it
    names none. CommandError when it names local datasets and no storage emulator is in use: `option` names the
    command-line option the manifest came from."""
    keys = local_dataset_keys(manifest)
    if not keys:
        return manifest
    emulator = os.environ.get("STORAGE_EMULATOR_HOST")
    if not emulator:
        local = ", ".join(f"{key!r} ({_paths(manifest['datasets'][key])[0]})" for key in keys)
        raise CommandError(
            f"{option} names local datasets ({local}), which a service refuses in a question: upload them to Cloud "
            "Storage (octue_beam.Dataset(path).upload('gs://...')) and name their gs:// paths, or use the local "
            "storage emulator (STORAGE_EMULATOR_HOST; `run` starts one when no project is configured)."
        )
    loaded = Manifest.from_primitive(manifest)
    client.create_bucket(bucket)
    folder = f"gs://{bucket}/inputs/{uuid.uuid4()}"
    for key, dataset in loaded.datasets.items():
        if not dataset.exists_locally:
            continue
        local_path = dataset.path
        cloud_path = dataset.upload(f"{folder}/{key}")
        print(
            f"Uploaded the local dataset {key!r} ({local_path}) to {cloud_path} on the storage emulator at "
            f"{emulator}: the question names it there.",
            file=sys.stderr,
            flush=True,
        )
    return loaded.to_primitive()
