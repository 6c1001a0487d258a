"""The Dataflow Flex Template spec of a service revision, written by octue_beam rather than `gcloud dataflow
flex-template build`, and checked against the `google.cloud.dataflow_v1beta3.ContainerSpec` type.

The spec names the image (one image for the launcher and the workers), the Python SDK, and the template's metadata:
one optional parameter per pipeline option `ServiceOptions` declares (each is a declared pipeline option, so the
launch entry accepts it as `--<name>=<value>`), and the streaming settings. The service answers each question once
whatever the delivery (questions are deduplicated by question UUID and retry count), so it supports both of
Dataflow's streaming modes; exactly-once is the default.
"""

import json
from typing import Any

from google.cloud import dataflow_v1beta3
from google.protobuf.json_format import ParseError

from octue_beam.exceptions import OctueBeamError
from octue_beam.pipeline.options import template_parameters

EXACTLY_ONCE = "EXACTLY_ONCE"
AT_LEAST_ONCE = "AT_LEAST_ONCE"
STREAMING_MODES = (EXACTLY_ONCE, AT_LEAST_ONCE)


class InvalidTemplateSpec(OctueBeamError, ValueError):
    """A Flex Template spec that the `dataflow_v1beta3.ContainerSpec` type does not accept."""


def container_spec(
    image: str,
    sruid: str,
    parameters: list[dict] | None = None,
    default_streaming_mode: str = EXACTLY_ONCE,
) -> dict[str, Any]:
    """The Flex Template spec (JSON-able, camelCase as Dataflow reads it) of the service revision `sruid` in `image`.

    `parameters` defaults to one per `ServiceOptions` pipeline option (`name`, `label`, `helpText`, `isOptional`).
    """
    if default_streaming_mode not in STREAMING_MODES:
        raise InvalidTemplateSpec(
            f"The default streaming mode {default_streaming_mode!r} is not one of {', '.join(STREAMING_MODES)}."
        )
    spec = {
        "image": image,
        "sdkInfo": {"language": "PYTHON"},
        "metadata": {
            "name": sruid,
            "description": (
                f"The octue_beam service {sruid}: a streaming pipeline answering the questions addressed to it on the "
                "services topic."
            ),
            "parameters": template_parameters() if parameters is None else parameters,
            "streaming": True,
            "supportsAtLeastOnce": True,
            "supportsExactlyOnce": True,
            "defaultStreamingMode": default_streaming_mode,
        },
    }
    parse_container_spec(spec)
    return spec


def parse_container_spec(spec: dict[str, Any] | str) -> dataflow_v1beta3.ContainerSpec:
    """The spec as a `dataflow_v1beta3.ContainerSpec`, refusing any field the type does not have."""
    text = spec if isinstance(spec, str) else json.dumps(spec)
    try:
        return dataflow_v1beta3.ContainerSpec.from_json(text, ignore_unknown_fields=False)
    except (ParseError, ValueError) as error:  # ValueError: json.JSONDecodeError
        raise InvalidTemplateSpec(
            f"The Flex Template spec is not a valid dataflow_v1beta3.ContainerSpec: {error}"
        ) from None


def spec_text(spec: dict[str, Any]) -> str:
    """The spec file's content: indented JSON, as uploaded to the template location."""
    return json.dumps(spec, indent=2) + "\n"


def parameter_names(spec: dict[str, Any]) -> list[str]:
    """The names of the parameters the spec's metadata declares."""
    return [parameter["name"] for parameter in spec["metadata"]["parameters"]]
