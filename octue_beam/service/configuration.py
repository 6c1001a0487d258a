"""`octue.yaml` (and the optional app configuration JSON file): what a service is and how it is configured.

Accepts every key of the Octue SDK 0.69's `octue.yaml` plus `app_configuration_path` and `dockerfile_path`
from Octue's "Creating services" docs, and one octue_beam addition: `question_timeout`, the seconds a question may
run before it is answered with a `QuestionTimeLimitExceeded` exception (Octue has no time limit per question).
Paths are relative to the folder of `octue.yaml`.
"""

import dataclasses
import json
import logging
import math
import os
import re
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from octue_beam.exceptions import InvalidServiceConfiguration, InvalidServiceID
from octue_beam.messaging import sruid as sruids

logger = logging.getLogger(__name__)

DEFAULT_CONFIGURATION_FILE = "octue.yaml"
DEFAULT_REVISION_TAG = "local"
OUTPUT_LOCATION_PATTERN = re.compile(r"^gs://[a-z\d][a-z\d_./-]*$")

#: Keys an app configuration file may set (they can also be written straight into octue.yaml).
APP_CONFIGURATION_KEYS = (
    "configuration_values",
    "configuration_manifest",
    "children",
    "output_location",
    "use_signed_urls_for_output_datasets",
)


@dataclasses.dataclass
class ServiceConfiguration:
    """One service of an `octue.yaml` file, with paths resolved against `directory`."""

    name: str
    namespace: str
    directory: Path = Path(".")
    app_source_path: Path = Path(".")
    twine_path: Path = Path("twine.json")
    app_configuration_path: Path | None = None
    dockerfile_path: Path | None = None
    diagnostics_cloud_path: str | None = None
    service_registries: list[dict] | None = None
    event_store_table_id: str | None = None
    delete_local_files: bool = False
    configuration_values: Any = None
    configuration_manifest: Any = None
    children: list[dict] | None = None
    output_location: str | None = None
    use_signed_urls_for_output_datasets: bool = False
    question_timeout: float | None = None  # octue_beam addition; None: the engine's default (one hour)
    revision_tag: str = DEFAULT_REVISION_TAG
    source: str = ""

    @property
    def sruid(self) -> str:
        """`<namespace>/<name>:<revision_tag>`."""
        return sruids.create_sruid(self.namespace, self.name, self.revision_tag)

    @classmethod
    def from_file(
        cls, path: str | os.PathLike | None = None, *, revision_tag: str | None = None, service_name: str | None = None
    ) -> "ServiceConfiguration":
        return load_service_configuration(path, revision_tag=revision_tag, service_name=service_name)


_FIELDS = {field.name for field in dataclasses.fields(ServiceConfiguration)} - {"directory", "revision_tag", "source"}
_PATH_KEYS = ("app_source_path", "twine_path", "app_configuration_path", "dockerfile_path")


def find_configuration_file(service_dir: str | os.PathLike | None = None) -> Path:
    """The octue.yaml to use: `$OCTUE_SERVICE_CONFIGURATION_PATH`, else `<service_dir>/octue.yaml`.

    `service_dir` may also be the path of a YAML file itself.
    """
    override = os.environ.get("OCTUE_SERVICE_CONFIGURATION_PATH")
    if override:
        return Path(override)
    path = Path(service_dir or ".")
    if path.is_dir():
        path = path / DEFAULT_CONFIGURATION_FILE
    return path


def _fail(source: Path, key: str, reason: str) -> InvalidServiceConfiguration:
    return InvalidServiceConfiguration(f"{source}: {key}: {reason}")


def _read_app_configuration(path: Path, source: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise _fail(
            source, "app_configuration_path", f"the app configuration file {str(path)!r} does not exist"
        ) from None
    except json.JSONDecodeError as error:
        raise InvalidServiceConfiguration(f"{path}: not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise InvalidServiceConfiguration(f"{path}: the app configuration must be a JSON object")
    unknown = sorted(set(data) - set(APP_CONFIGURATION_KEYS))
    if unknown:
        logger.warning(
            "%s: ignoring unknown app configuration keys %s (known: %s).", path, unknown, list(APP_CONFIGURATION_KEYS)
        )
    return {key: data[key] for key in APP_CONFIGURATION_KEYS if key in data}


def load_service_configuration(
    service_dir: str | os.PathLike | None = None,
    *,
    revision_tag: str | None = None,
    service_name: str | None = None,
) -> ServiceConfiguration:
    """Read and check the configuration of one service of octue.yaml's `services:` (see `select_service`).

    Environment overrides: `OCTUE_SERVICE_NAMESPACE`, `OCTUE_SERVICE_NAME`, `OCTUE_SERVICE_REVISION_TAG`,
    `OCTUE_SERVICE_CONFIGURATION_PATH`. The revision tag is `revision_tag`, else the env var, else "local".
    """
    source, services = _read_services(service_dir)
    return _configuration_of(source, select_service(source, services, service_name), revision_tag)


class ServiceLocation(NamedTuple):
    """One service of a repository: the folder of its octue.yaml and, when that lists several services, its name."""

    directory: str
    name: str | None = None


def locate_services(service_dir: str | os.PathLike, service_name: str | None = None) -> list[ServiceLocation]:
    """The services of a folder to serve: the one named `service_name`, else every one its octue.yaml lists (one
    `ServiceLocation` with no name when it lists only one). The folder's configuration is read, not checked."""
    directory = os.fspath(service_dir)
    if service_name is not None:
        return [ServiceLocation(directory, service_name)]
    names = service_names(directory)
    if len(names) == 1:
        return [ServiceLocation(directory)]
    return [ServiceLocation(directory, name) for name in names]


def service_names(service_dir: str | os.PathLike | None = None) -> list[str]:
    """The names of the services octue.yaml lists, in its order (a repository may hold several)."""
    _, services = _read_services(service_dir)
    return [str(service.get("name")) for service in services]


def select_service(source: Path, services: list[dict], service_name: str | None = None) -> dict:
    """The entry of `services:` to use: the one named `service_name`; else the only one; else, when there are
    several, the one named by `$OCTUE_SERVICE_NAME` (how a container built for one of them says which). Several and
    none chosen is an error listing them (the CLI's `--service NAME`)."""
    names = [service.get("name") for service in services]
    if service_name is None and len(services) == 1:
        return services[0]
    chosen = service_name or (os.environ.get("OCTUE_SERVICE_NAME") if len(services) > 1 else None)
    if chosen is None:
        raise _fail(
            source,
            "services",
            f"lists {len(services)} services ({', '.join(map(str, names))}): choose one with --service NAME "
            "(service_name=... in Python, or $OCTUE_SERVICE_NAME)",
        )
    matches = [service for service in services if service.get("name") == chosen]
    if not matches:
        raise _fail(source, "services", f"has no service named {chosen!r} (it lists: {', '.join(map(str, names))})")
    if len(matches) > 1:
        raise _fail(source, "services", f"lists the name {chosen!r} more than once")
    return matches[0]


def _read_services(service_dir: str | os.PathLike | None) -> tuple[Path, list[dict]]:
    source = find_configuration_file(service_dir)
    try:
        with open(source, encoding="utf-8") as f:
            document = yaml.safe_load(f)
    except FileNotFoundError:
        raise InvalidServiceConfiguration(
            f"No service configuration file at {str(source)!r}: a service folder needs an octue.yaml with "
            "'services: [{namespace: ..., name: ...}]'."
        ) from None
    except yaml.YAMLError as error:
        raise InvalidServiceConfiguration(f"{source}: not valid YAML: {error}") from None

    services = document.get("services") if isinstance(document, dict) else None
    if not isinstance(services, list) or not services or not all(isinstance(each, dict) for each in services):
        raise _fail(
            source,
            "services",
            "must be a non-empty list of service mappings ('services: [{namespace: ..., name: ...}]')",
        )
    return source, services


def _configuration_of(source: Path, service: dict, revision_tag: str | None) -> ServiceConfiguration:
    raw = dict(service)

    unknown = sorted(set(raw) - _FIELDS)
    if unknown:
        logger.warning("%s: ignoring unknown keys %s (known keys: %s).", source, unknown, sorted(_FIELDS))
        for key in unknown:
            del raw[key]

    for key, env in (("namespace", "OCTUE_SERVICE_NAMESPACE"), ("name", "OCTUE_SERVICE_NAME")):
        if os.environ.get(env):
            if raw.get(key) and raw[key] != os.environ[env]:
                logger.warning(
                    "%s: the service %s %r is overridden by $%s=%r.", source, key, raw[key], env, os.environ[env]
                )
            raw[key] = os.environ[env]
        if not raw.get(key):
            raise _fail(source, key, f"missing; every service needs a {key} (or set ${env})")
        try:
            sruids.validate_name(raw[key], key)
        except InvalidServiceID as error:
            raise _fail(source, key, str(error)) from None
    if raw["namespace"] in sruids.RESERVED_NAMESPACES:
        raise _fail(source, "namespace", f"the namespace {raw['namespace']!r} is reserved; choose another")

    directory = source.parent.resolve()
    raw.setdefault("app_source_path", ".")
    raw.setdefault("twine_path", "twine.json")
    for key in _PATH_KEYS:
        if raw.get(key) is not None:
            if not isinstance(raw[key], str):
                raise _fail(source, key, f"must be a path string, not {raw[key]!r}")
            raw[key] = directory / raw[key]

    if raw.get("app_configuration_path") is not None:
        for key, value in _read_app_configuration(raw["app_configuration_path"], source).items():
            if key in raw:
                logger.warning(
                    "%s: %s is set in both octue.yaml and %s; using octue.yaml's.",
                    source,
                    key,
                    raw["app_configuration_path"],
                )
                continue
            raw[key] = value

    configuration_manifest = raw.get("configuration_manifest")
    if isinstance(configuration_manifest, str):
        path = directory / configuration_manifest
        try:
            raw["configuration_manifest"] = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise _fail(
                source, "configuration_manifest", f"cannot read the manifest file {str(path)!r}: {error}"
            ) from None

    output_location = raw.get("output_location")
    if output_location is not None and not (
        isinstance(output_location, str) and OUTPUT_LOCATION_PATTERN.match(output_location)
    ):
        raise _fail(
            source,
            "output_location",
            f"{output_location!r} must be a Cloud Storage path matching {OUTPUT_LOCATION_PATTERN.pattern}",
        )
    for key in ("delete_local_files", "use_signed_urls_for_output_datasets"):
        if key in raw and not isinstance(raw[key], bool):
            raise _fail(source, key, f"must be true or false, not {raw[key]!r}")
    question_timeout = raw.get("question_timeout")
    if question_timeout is not None:
        if isinstance(question_timeout, bool) or not isinstance(question_timeout, (int, float)):
            raise _fail(source, "question_timeout", f"must be a number of seconds, not {question_timeout!r}")
        if not (question_timeout > 0 and math.isfinite(question_timeout)):
            raise _fail(source, "question_timeout", f"must be a positive number of seconds, not {question_timeout!r}")
        raw["question_timeout"] = float(question_timeout)
    registries = raw.get("service_registries")
    if registries is not None and not (
        isinstance(registries, list) and all(isinstance(r, dict) and {"name", "endpoint"} <= set(r) for r in registries)
    ):
        raise _fail(source, "service_registries", "must be a list of {name, endpoint} mappings")
    if raw.get("children") is not None and not isinstance(raw["children"], list):
        raise _fail(source, "children", "must be a list of {key, id, backend} mappings")

    tag = revision_tag or os.environ.get("OCTUE_SERVICE_REVISION_TAG") or DEFAULT_REVISION_TAG
    try:
        sruids.validate_revision_tag(tag)
    except InvalidServiceID as error:
        raise InvalidServiceConfiguration(f"{source}: revision tag: {error}") from None
    return ServiceConfiguration(**raw, directory=directory, revision_tag=tag, source=str(source))
