"""Loading a service once: configuration, twine, app, validated configuration strands and credentials.

The pipeline does this once per worker (in `DoFn.setup`), not once per question as the Octue SDK does.
"""

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from octue_beam.resources import Manifest
from octue_beam.service.app_loading import load_app
from octue_beam.service.configuration import ServiceConfiguration, load_service_configuration
from octue_beam.twine import Twine
from octue_beam.twine.credentials import populate_from_secret_manager


@dataclasses.dataclass
class Service:
    """A loaded, validated service, ready to answer questions (`octue_beam.service.running.answer`)."""

    configuration: ServiceConfiguration
    twine: Twine
    app: Callable[[Any], None]
    configuration_values: Any = None
    configuration_manifest: Any = None
    children: list[dict] | None = None

    @property
    def sruid(self) -> str:
        return self.configuration.sruid

    @property
    def directory(self) -> Path:
        return self.configuration.directory

    @property
    def output_location(self) -> str | None:
        return self.configuration.output_location


def load_service(
    service_dir: str | os.PathLike = ".",
    *,
    revision_tag: str | None = None,
    project: str | None = None,
    check_credentials: bool = True,
    service_name: str | None = None,
) -> Service:
    """Load and check the service in `service_dir` (the folder of its octue.yaml).

    Configuration values, configuration manifest and children from octue.yaml (or the app configuration file)
    are validated against the twine once here; credentials are checked (after loading them from Google Secret
    Manager when `project` is given). `service_name` chooses one when octue.yaml lists several.
    """
    configuration = load_service_configuration(service_dir, revision_tag=revision_tag, service_name=service_name)
    twine = Twine(source=configuration.twine_path)
    app = load_app(configuration.app_source_path)

    validated = twine.validate(
        configuration_values=configuration.configuration_values,
        configuration_manifest=configuration.configuration_manifest,
        loaded=True,
    )
    configuration_manifest = None
    if validated["configuration_manifest"] is not None:
        configuration_manifest = Manifest.from_primitive(validated["configuration_manifest"])
        twine.validate_file_tags("configuration_manifest", configuration_manifest)

    children = configuration.children
    if children is not None:
        children = twine.validate_children(children, loaded=True)

    if check_credentials and "credentials" in twine.available_strands:
        if project:
            populate_from_secret_manager([c["name"] for c in twine.credentials], project)
        twine.validate_credentials(
            dotenv_path=str(configuration.directory / ".env") if (configuration.directory / ".env").is_file() else None
        )

    return Service(
        configuration=configuration,
        twine=twine,
        app=app,
        configuration_values=validated["configuration_values"],
        configuration_manifest=configuration_manifest,
        children=children,
    )
