"""Running a service's app once, locally, with no Pub/Sub: `run_locally` and the `ask-local` command."""

import os
from collections.abc import Callable
from typing import Any

from octue_beam.service.analysis import Analysis
from octue_beam.service.loading import load_service
from octue_beam.service.running import answer


def run_locally(
    service_dir: str | os.PathLike = ".",
    input_values: Any = None,
    input_manifest: Any = None,
    *,
    children: list[dict] | None = None,
    question_uuid: str | None = None,
    revision_tag: str | None = None,
    handle_monitor_message: Callable[[Any], None] | None = None,
    service_name: str | None = None,
) -> Analysis:
    """Load the service in `service_dir` (`service_name`: which one, when its octue.yaml lists several), answer one
    question and return the finalised Analysis.

    Raises the validation or app error on failure. Local input manifests are allowed.
    """
    service = load_service(service_dir, revision_tag=revision_tag, service_name=service_name)
    return answer(
        service,
        question_uuid=question_uuid,
        input_values=input_values,
        input_manifest=input_manifest,
        children=children,
        handle_monitor_message=handle_monitor_message,
        allow_local_files=True,
    )
