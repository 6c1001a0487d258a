"""Answering one question with a loaded service: validate inputs, run the app, finalise the outputs.

The single code path behind `ask-local`, `run_locally` and the pipeline's AnswerQuestion DoFn. Every failure
raises (after saving diagnostics when asked to); turning failures into `exception` events is the caller's job.
"""

import contextlib
import logging
import uuid as uuid_module
from collections.abc import Callable
from typing import Any

from octue_beam.context import monitor_forwarder_context, question_context
from octue_beam.messaging.attributes import SAVE_DIAGNOSTICS_ON_CRASH
from octue_beam.resources import Manifest
from octue_beam.service.analysis import Analysis
from octue_beam.service.children import build_children
from octue_beam.service.diagnostics import Diagnostics
from octue_beam.service.loading import Service

logger = logging.getLogger(__name__)


def _prepare_output_manifest(service: Service) -> Any:
    """One empty local dataset per output dataset of the twine (in the current cache scope), or None."""
    if "output_manifest" not in service.twine.available_strands:
        return None
    return Manifest.prepare(service.twine.dataset_keys("output_manifest"))


def _build_input_manifest(service: Service, primitive: Any, allow_local_files: bool) -> Any:
    if primitive is None:
        return None
    manifest = Manifest.from_primitive(primitive, remote=not allow_local_files)
    service.twine.validate_file_tags("input_manifest", manifest)
    return manifest


def answer(
    service: Service,
    *,
    question_uuid: str | None = None,
    input_values: Any = None,
    input_manifest: Any = None,
    children: list[dict] | None = None,
    handle_monitor_message: Callable[[Any], None] | None = None,
    parent_question_uuid: str | None = None,
    originator_question_uuid: str | None = None,
    originator: str | None = None,
    retry_count: int = 0,
    allow_local_files: bool = False,
    save_diagnostics: str = SAVE_DIAGNOSTICS_ON_CRASH,
) -> Analysis:
    """Validate the question's inputs, run the app on an Analysis and finalise it; returns the Analysis.

    `children` (a question's override) replaces the service's configured children for this question.
    `allow_local_files` lets the input manifest name local paths (true for local runs, never for questions
    arriving over Pub/Sub). Children the app asks receive this question's tree attributes, and their monitor
    messages go to `handle_monitor_message` unless the app handles them. `save_diagnostics` (the question's
    attribute) decides whether diagnostics are saved to the service's `diagnostics_cloud_path`: on any failure
    (`SAVE_DIAGNOSTICS_ON_CRASH`, including invalid inputs), always (`SAVE_DIAGNOSTICS_ON`) or never.
    """
    question_uuid = question_uuid or str(uuid_module.uuid4())
    diagnostics = Diagnostics(service.configuration.diagnostics_cloud_path, question_uuid, save_diagnostics)
    diagnostics.configuration_values = service.configuration_values
    diagnostics.configuration_manifest = service.configuration_manifest
    diagnostics.input_values = input_values
    diagnostics.input_manifest = input_manifest

    with contextlib.ExitStack() as stack:
        stack.enter_context(question_context(question_uuid))
        # children asked without a handler (even with `octue_beam.ask`) send their monitor messages to ours
        stack.enter_context(monitor_forwarder_context(handle_monitor_message))
        stack.enter_context(diagnostics.capturing_logs())
        try:
            analysis = _answer(
                service,
                diagnostics,
                question_uuid=question_uuid,
                input_values=input_values,
                input_manifest=input_manifest,
                children=children,
                handle_monitor_message=handle_monitor_message,
                originator_question_uuid=originator_question_uuid,
                originator=originator,
                allow_local_files=allow_local_files,
            )
        except BaseException:
            stack.close()  # stop capturing logs before uploading them
            diagnostics.save_if_wanted(crashed=True)
            raise
    diagnostics.save_if_wanted(crashed=False)
    return analysis


def _children_source(service: Service, overridden: bool) -> str:
    if overridden:
        return "by the question's 'children' (which replace the service's)"
    configuration = service.configuration
    where = configuration.source or "octue.yaml"
    if configuration.app_configuration_path is not None:
        where += f" or {configuration.app_configuration_path}"
    return f"under 'children' in {where}"


def _answer(
    service: Service,
    diagnostics: Diagnostics,
    *,
    question_uuid: str,
    input_values: Any,
    input_manifest: Any,
    children: list[dict] | None,
    handle_monitor_message: Callable[[Any], None] | None,
    originator_question_uuid: str | None,
    originator: str | None,
    allow_local_files: bool,
) -> Analysis:
    twine = service.twine
    validated = twine.validate(input_values=input_values, input_manifest=input_manifest, children=children, loaded=True)
    manifest = _build_input_manifest(service, validated["input_manifest"], allow_local_files)
    if manifest is not None:
        diagnostics.input_manifest = manifest
    analysis = Analysis(
        twine,
        id=question_uuid,
        configuration_values=service.configuration_values,
        configuration_manifest=service.configuration_manifest,
        input_values=validated["input_values"],
        input_manifest=manifest,
        children=build_children(
            validated["children"] if children is not None else service.children,
            parent_sruid=service.sruid,
            question_uuid=question_uuid,
            originator_question_uuid=originator_question_uuid,
            originator=originator,
            source=_children_source(service, children is not None),
            recorder=diagnostics.questions,
            forward_monitor_message=handle_monitor_message,
            service_registries=service.configuration.service_registries,
            declared_keys=[item["key"] for item in getattr(twine, "children", None) or []],
        ),
        output_values={} if "output_values" in twine.available_strands else None,
        output_manifest=_prepare_output_manifest(service),
        output_location=service.output_location,
        use_signed_urls_for_output_datasets=service.configuration.use_signed_urls_for_output_datasets,
        handle_monitor_message=handle_monitor_message,
    )
    try:
        service.app(analysis)
    finally:
        analysis.stop_periodic_monitor_messages()
    if not analysis.finalised:
        analysis.finalise()
    return analysis
