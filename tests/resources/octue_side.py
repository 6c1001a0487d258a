"""Run by the `octue` interpreter (a separate venv with octue==0.69.1) in the interop tests; not imported by pytest.

`python octue_side.py write|read PARAMS_JSON` prints a JSON report. Octue asks google.auth for credentials, so they
are replaced by anonymous ones here (the storage emulator needs none).
"""

import datetime
import json
import logging
import os
import sys

import google.auth
import google.auth.credentials

google.auth.default = lambda *args, **kwargs: (google.auth.credentials.AnonymousCredentials(), "octue-beam-local")
logging.disable(logging.CRITICAL)

from octue.resources import Datafile, Dataset, Manifest  # noqa: E402


def write(params):
    folder = params["folder"]
    os.makedirs(folder, exist_ok=True)
    for index in range(2):
        path = os.path.join(folder, f"octue_{index}.csv")
        with Datafile(path, mode="w", tags={"sequence": index, "nested": {"k": [1, 2]}}, labels=["made-by-octue"],
                      timestamp=datetime.datetime(2021, 1, 2, 3, 4, 5 + index)) as (datafile, f):
            f.write(f"{index}\n")
    dataset = Dataset(folder, name="octue-dataset", tags={"location": 108346}, labels=["met", "mast"])
    dataset.update_local_metadata()
    dataset.upload(params["cloud_path"])
    cloud_dataset = Dataset(params["cloud_path"])
    files_dataset = Dataset(
        path=params["cloud_path"], files=sorted(f.cloud_path for f in cloud_dataset.files), name="by-files"
    )
    manifest = Manifest(datasets={"by_path": params["cloud_path"], "by_files": files_dataset})
    return {
        "files": {f.name: {"id": f.id, "tags": f.tags.data} for f in dataset.files},
        "dataset_id": dataset.id,
        "manifest": manifest.serialise(),
    }


def read(params):
    local = Dataset(params["folder"])
    cloud = Dataset(params["cloud_path"])
    signed = Dataset(params["signed_url"])
    manifest = Manifest.deserialise(params["manifest"], from_string=True)

    def describe(files):
        return {
            f.name: {
                "id": f.id,
                "tags": f.tags.data,
                "labels": sorted(map(str, f.labels)),
                "timestamp": f.timestamp.isoformat() if f.timestamp else None,
            }
            for f in files
        }

    return {
        "local": {
            "id": local.id,
            "name": local.name,
            "tags": local.tags.data,
            "labels": sorted(map(str, local.labels)),
            "files": describe(local.files),
        },
        "cloud": {
            "id": cloud.id,
            "name": cloud.name,
            "tags": cloud.tags.data,
            "labels": sorted(map(str, cloud.labels)),
            "files": describe(cloud.files),
        },
        "signed": {"id": signed.id, "name": signed.name, "files": sorted(f.name for f in signed.files)},
        "manifest": json.loads(manifest.serialise()),
    }


if __name__ == "__main__":
    action, params = sys.argv[1], json.loads(sys.argv[2])
    print(json.dumps({"write": write, "read": read}[action](params), default=str))
