"""Turning downloaded diagnostics into a test fixture (`python -m octue_beam diagnostics ...` downloads them)."""

import json
import os
from typing import Any

from octue_beam import serialisation
from octue_beam.resources import Manifest
from octue_beam.storage.path import is_cloud_path
from octue_beam.testing.child_emulator import ChildEmulator


def _read(directory: str, file_name: str, default: Any = None) -> Any:
    path = os.path.join(directory, file_name)
    if not os.path.isfile(path):
        return default
    with open(path) as f:
        text = f.read()
    try:
        return serialisation.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from None


def _manifest(directory: str, file_name: str) -> Any:
    """The manifest saved in the diagnostics, with dataset paths relative to the diagnostics folder made absolute."""
    path = os.path.join(directory, file_name)
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        primitive = serialisation.loads(f.read(), decode_types=False)
    if primitive is None:
        return None
    datasets = {}
    for key, dataset in (primitive.get("datasets") or {}).items():
        if isinstance(dataset, str) and not is_cloud_path(dataset) and not os.path.isabs(dataset):
            dataset = os.path.join(directory, dataset)
        elif isinstance(dataset, dict) and isinstance(dataset.get("path"), str) and not is_cloud_path(dataset["path"]) \
                and not os.path.isabs(dataset["path"]):
            dataset = {**dataset, "path": os.path.join(directory, dataset["path"])}
        datasets[key] = dataset
    return Manifest.from_primitive({**primitive, "datasets": datasets})


def load_test_fixture_from_diagnostics(path: str | os.PathLike) -> tuple[Any, Any, Any, Any, tuple[ChildEmulator, ...]]:
    """`(configuration_values, configuration_manifest, input_values, input_manifest, child_emulators)` from the
    diagnostics downloaded into the folder `path`.

    Manifests are `Manifest`s (read from the cloud, or from the local copies when downloaded with
    `--download-datasets`); `child_emulators` has one `ChildEmulator` per question the app asked, in ask order, to
    give to `emulated_children(...)`.
    """
    directory = os.fspath(path)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"No diagnostics folder at {directory!r}.")
    questions = _read(directory, "questions.json", default=[]) or []
    emulators = tuple(
        ChildEmulator(events=question.get("events") or [], id=question.get("id"), key=question.get("key"))
        for question in questions
    )
    return (
        _read(directory, "configuration_values.json"),
        _manifest(directory, "configuration_manifest.json"),
        _read(directory, "input_values.json"),
        _manifest(directory, "input_manifest.json"),
        emulators,
    )
