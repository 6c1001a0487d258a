"""Diagnostics: what a question's answer depended on, saved to Cloud Storage so a failure can be replayed as a test.

With `diagnostics_cloud_path` in octue.yaml and the question's `save_diagnostics` asking for it
(`SAVE_DIAGNOSTICS_ON_CRASH`, the default, on any failure including invalid inputs; `SAVE_DIAGNOSTICS_ON` always),
`<diagnostics_cloud_path>/<question uuid>/` receives (Octue's file names):

- `configuration_values.json`, `configuration_manifest.json` + `configuration_manifest_datasets/<key>/...`
- `input_values.json`, `input_manifest.json` + `input_manifest_datasets/<key>/...`
- `questions.json`: the questions the app asked its children, in ask order:
  `[{"id": <child SRUID>, "key": <child key>, <ask arguments>, "events": [{"event", "attributes"}, ...]}]`
- `logs.json`: the question's log records (the fields of a `log_record` event), which Octue documents but never
  uploads. Only records that pass the process's logging levels are kept (at most `MAX_LOG_RECORDS`).

Manifests are saved with their datasets copied beside them and their paths rewritten to the copies, so they can
be loaded again (`octue_beam.testing.load_test_fixture_from_diagnostics`). Uploading never raises: errors are
logged and the original error of the question stays the one raised.
"""

import contextlib
import copy
import logging
import os
from collections.abc import Iterator
from typing import Any

from octue_beam import serialisation
from octue_beam.context import routing_logs
from octue_beam.messaging.attributes import (
    SAVE_DIAGNOSTICS_MODES,
    SAVE_DIAGNOSTICS_OFF,
    SAVE_DIAGNOSTICS_ON,
    SAVE_DIAGNOSTICS_ON_CRASH,
)
from octue_beam.messaging.events import log_record
from octue_beam.resources import Manifest, local_metadata
from octue_beam.service.children import QuestionRecorder
from octue_beam.storage import client
from octue_beam.storage.path import name_of

logger = logging.getLogger(__name__)

MAX_LOG_RECORDS = 10_000
VALUES_FILES = ("configuration_values", "input_values")
MANIFEST_FILES = ("configuration_manifest", "input_manifest")
QUESTIONS_FILE = "questions.json"
LOGS_FILE = "logs.json"
ALL_FILES = tuple(f"{name}.json" for name in (*VALUES_FILES, *MANIFEST_FILES)) + (QUESTIONS_FILE, LOGS_FILE)


def check_mode(save_diagnostics: str) -> str:
    if save_diagnostics not in SAVE_DIAGNOSTICS_MODES:
        raise ValueError(
            f"save_diagnostics must be one of {', '.join(SAVE_DIAGNOSTICS_MODES)}; got {save_diagnostics!r}."
        )
    return save_diagnostics


# --- one question's diagnostics ------------------------------------------------------------------------------------


class Diagnostics:
    """What one question's answer depends on, and uploading it when the mode asks for it."""

    def __init__(
        self, cloud_path: str | None, question_uuid: str, save_diagnostics: str = SAVE_DIAGNOSTICS_ON_CRASH
    ) -> None:
        self.cloud_path = cloud_path
        self.question_uuid = question_uuid
        self.mode = check_mode(save_diagnostics)
        self.configuration_values: Any = None
        self.configuration_manifest: Any = None
        self.input_values: Any = None
        self.input_manifest: Any = None
        self.questions = QuestionRecorder()
        self.logs: list[dict] = []

    @property
    def destination(self) -> str | None:
        """`<diagnostics_cloud_path>/<question uuid>`, or None without a diagnostics path."""
        if not self.cloud_path:
            return None
        return f"{self.cloud_path.rstrip('/')}/{self.question_uuid}"

    @contextlib.contextmanager
    def capturing_logs(self) -> Iterator[None]:
        """Keep the question's log records (those logged where `current_question()` is this question)."""
        if self.mode == SAVE_DIAGNOSTICS_OFF or not self.cloud_path:
            yield
            return
        self.logs = []
        with routing_logs(self.question_uuid, self._keep_log_record):
            yield

    def _keep_log_record(self, record: logging.LogRecord) -> None:
        if len(self.logs) < MAX_LOG_RECORDS:
            self.logs.append(log_record(record)["log_record"])

    def wanted(self, crashed: bool) -> bool:
        return self.mode == SAVE_DIAGNOSTICS_ON or (crashed and self.mode == SAVE_DIAGNOSTICS_ON_CRASH)

    def save_if_wanted(self, crashed: bool) -> str | None:
        """Upload if the mode asks for it (never raises); returns where, or None."""
        if not self.wanted(crashed):
            return None
        if not self.cloud_path:
            log = logger.warning if self.mode == SAVE_DIAGNOSTICS_ON else logger.debug
            log(
                "Diagnostics of question %s not saved: the service has no diagnostics_cloud_path in octue.yaml.",
                self.question_uuid,
            )
            return None
        return self.upload()

    def upload(self) -> str | None:
        """Upload everything under `destination`; logs (never raises) what cannot be uploaded."""
        destination = self.destination
        if destination is None:
            return None
        failures = 0
        for name in VALUES_FILES:
            failures += not _try(
                f"{name}.json",
                destination,
                lambda name=name: _upload_json(getattr(self, name), f"{destination}/{name}.json"),
            )
        for name in MANIFEST_FILES:
            failures += not _try(
                f"{name}.json", destination, lambda name=name: _upload_manifest(getattr(self, name), destination, name)
            )
        failures += not _try(
            QUESTIONS_FILE,
            destination,
            lambda: _upload_json(self.questions.questions, f"{destination}/{QUESTIONS_FILE}"),
        )
        failures += not _try(
            LOGS_FILE, destination, lambda: _upload_json(list(self.logs), f"{destination}/{LOGS_FILE}")
        )
        if failures:
            logger.warning(
                "Diagnostics of question %s saved to %s with %d part(s) missing.",
                self.question_uuid,
                destination,
                failures,
            )
        else:
            logger.info(
                "Diagnostics of question %s saved to %s. Get them with `python -m octue_beam diagnostics %s "
                "--download-datasets`.",
                self.question_uuid,
                destination,
                destination,
            )
        return destination


def _try(what: str, destination: str, upload: Any) -> bool:
    try:
        upload()
        return True
    except Exception as error:  # noqa: BLE001 - diagnostics must never replace the question's own error
        logger.error(
            "Could not save %s of the diagnostics to %s: %s: %s", what, destination, type(error).__name__, error
        )
        return False


def _upload_json(value: Any, cloud_path: str) -> None:
    client.upload_bytes(serialisation.dumps(value, indent=2), cloud_path, content_type="application/json")


def _upload_manifest(manifest: Any, destination: str, name: str) -> None:
    """The manifest's datasets copied to `<destination>/<name>_datasets/<key>` and the manifest, its paths rewritten
    to the copies, to `<destination>/<name>.json`. The original manifest is not changed."""
    if manifest is None:
        _upload_json(None, f"{destination}/{name}.json")
        return
    if not isinstance(manifest, Manifest):
        try:
            manifest = Manifest.from_primitive(manifest)
        except Exception as error:  # noqa: BLE001 - an invalid manifest is saved as it was received
            logger.warning("The %s could not be read (%s), so it is saved without its datasets.", name, error)
            _upload_json(manifest, f"{destination}/{name}.json")
            return
    datasets = {}
    for key, dataset in manifest.datasets.items():
        target = f"{destination}/{name}_datasets/{key}"
        try:
            duplicate = copy.deepcopy(dataset)
            datasets[key] = duplicate.upload(target)
        except Exception as error:  # noqa: BLE001 - keep the original path and go on with the other datasets
            logger.error(
                "Could not copy dataset %r of the %s to %s: %s: %s", key, name, target, type(error).__name__, error
            )
            datasets[key] = dataset.path
    _upload_json({"id": manifest.id, "name": manifest.name, "datasets": datasets}, f"{destination}/{name}.json")


# --- downloading -----------------------------------------------------------------------------------------------------


def download_diagnostics(cloud_path: str, local_path: str | os.PathLike = ".", download_datasets: bool = False) -> str:
    """Download the diagnostics at `cloud_path` (`<diagnostics_cloud_path>/<question uuid>`) into
    `<local_path>/<question uuid>/`; returns that folder.

    Only the JSON files by default; with `download_datasets`, also the manifests' datasets (with their metadata, in
    `<manifest>_datasets/<key>/`), and the manifests then name those folders (relative to the diagnostics folder).
    """
    cloud_path = cloud_path.rstrip("/")
    directory = os.path.join(os.fspath(local_path), name_of(cloud_path))
    os.makedirs(directory, exist_ok=True)
    found = 0
    for file_name in ALL_FILES:
        try:
            data = client.download_bytes(f"{cloud_path}/{file_name}")
        except FileNotFoundError:
            continue
        found += 1
        with open(os.path.join(directory, file_name), "wb") as f:
            f.write(data)
    if not found:
        raise FileNotFoundError(
            f"No diagnostics were found at {cloud_path!r} (expected files such as {', '.join(ALL_FILES[:5])})."
        )
    if download_datasets:
        for name in MANIFEST_FILES:
            _download_manifest_datasets(directory, name)
    return directory


def _download_manifest_datasets(directory: str, name: str) -> None:
    manifest_path = os.path.join(directory, f"{name}.json")
    if not os.path.isfile(manifest_path):
        return
    with open(manifest_path) as f:
        primitive = serialisation.loads(f.read(), decode_types=False)
    if not isinstance(primitive, dict) or not primitive.get("datasets"):
        return
    manifest = Manifest.from_primitive(primitive)
    for key, dataset in manifest.datasets.items():
        if not dataset.exists_in_cloud:
            continue
        relative = f"{name}_datasets/{key}"
        folder = dataset.download(os.path.join(directory, name + "_datasets", key))
        _write_local_metadata(dataset, folder)
        primitive["datasets"][key] = relative
    with open(manifest_path, "w") as f:
        f.write(serialisation.dumps(primitive, indent=2))


def _write_local_metadata(dataset: Any, folder: str) -> None:
    """`.octue` files for a downloaded dataset, so its files' and its own id, tags and labels are kept locally."""
    for datafile in dataset.files:
        if getattr(datafile, "_local_path", None):
            datafile.update_local_metadata()
    entry = serialisation.to_json_compatible(dataset.to_primitive(include_files=False))
    entry.pop("path", None)

    def change(records: dict) -> None:
        records["dataset"] = entry

    local_metadata.update(local_metadata.metadata_path_for_directory(folder), change)
