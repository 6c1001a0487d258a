"""`Runner`: Octue's documented way to run an app once in Python (`octue.twined.runner.Runner`), on octue_beam.

`Runner(app_src, twine, configuration_values=...)` checks the configuration once; `run(input_values=...,
input_manifest=...)` answers one question with the same code path as `ask-local`, `run_locally` and a served
service (`service.running.answer`) and returns the finalised `Analysis`. It takes Octue's arguments; what differs:

- `app_src` is a folder holding `app.py`, the path of an app file, a module or object with `run(analysis)`, an
  `App` class, or a function of the analysis (Octue's four kinds);
- `analysis_log_level` and `analysis_log_handler` attach the handler to the root logger for the run (octue_beam
  formats nothing itself);
- `delete_local_files=True` runs the question in its own temporary folder, removed when `run` returns (with the
  `RegisteredTemporaryDirectory`s and downloads made in it), as Octue removes them.
"""

import contextlib
import inspect
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from octue_beam.messaging import sruid as sruids
from octue_beam.messaging.attributes import SAVE_DIAGNOSTICS_ON_CRASH
from octue_beam.resources import Manifest, cache
from octue_beam.service.analysis import Analysis
from octue_beam.service.app_loading import load_app
from octue_beam.service.configuration import DEFAULT_REVISION_TAG, ServiceConfiguration
from octue_beam.service.loading import Service
from octue_beam.service.running import answer
from octue_beam.twine import Twine
from octue_beam.twine.credentials import populate_from_secret_manager
from octue_beam.twine.loading import load_json_source

#: The SRUID of a Runner given no `service_id` (the parent of the children its app asks).
DEFAULT_SERVICE_ID = f"local/local:{DEFAULT_REVISION_TAG}"


class Runner:
    """Run an app on one question at a time, with its configuration checked once (Octue's `Runner`)."""

    def __init__(
        self,
        app_src: Any,
        twine: Any = "twine.json",
        configuration_values: Any = None,
        configuration_manifest: Any = None,
        children: Any = None,
        output_location: str | None = None,
        use_signed_urls_for_output_datasets: bool = False,
        diagnostics_cloud_path: str | None = None,
        project_id: str | None = None,
        service_id: str | None = None,
        service_registries: list[dict] | None = None,
        delete_local_files: bool = False,
    ) -> None:
        self.app_src = app_src
        self.delete_local_files = delete_local_files
        namespace, name, revision_tag = sruids.split_service_id(service_id or DEFAULT_SERVICE_ID)
        self.twine = Twine(source=twine)
        configuration = ServiceConfiguration(
            name=name,
            namespace=namespace,
            directory=_directory_of(app_src),
            diagnostics_cloud_path=diagnostics_cloud_path,
            service_registries=service_registries,
            delete_local_files=delete_local_files,
            output_location=output_location,
            use_signed_urls_for_output_datasets=use_signed_urls_for_output_datasets,
            revision_tag=revision_tag or DEFAULT_REVISION_TAG,
            source="the Runner's arguments",
        )
        validated = self.twine.validate(
            configuration_values=configuration_values, configuration_manifest=configuration_manifest
        )
        manifest = None
        if validated["configuration_manifest"] is not None:
            manifest = Manifest.from_primitive(_primitive(validated["configuration_manifest"]))
            self.twine.validate_file_tags("configuration_manifest", manifest)
        if children is not None:
            children = self.twine.validate_children(children)
        if "credentials" in self.twine.available_strands:
            if project_id:
                populate_from_secret_manager([c["name"] for c in self.twine.credentials], project_id)
            self.twine.validate_credentials()
        self.service = Service(
            configuration=configuration,
            twine=self.twine,
            app=_entrypoint(app_src),
            configuration_values=validated["configuration_values"],
            configuration_manifest=manifest,
            children=children,
        )

    def run(
        self,
        analysis_id: str | None = None,
        input_values: Any = None,
        input_manifest: Any = None,
        children: Any = None,
        analysis_log_level: int = logging.INFO,
        analysis_log_handler: logging.Handler | None = None,
        handle_monitor_message: Callable[[Any], None] | None = None,
        save_diagnostics: str = SAVE_DIAGNOSTICS_ON_CRASH,
        originator_question_uuid: str | None = None,
        originator: str | None = None,
    ) -> Analysis:
        """Answer one question (inputs as data, JSON text or the path of a JSON file) and return the Analysis;
        invalid inputs and the app's errors are raised."""
        if children is not None and not isinstance(children, list):
            children, _ = load_json_source(children)
        with contextlib.ExitStack() as stack:
            if self.delete_local_files:
                stack.enter_context(cache.scope(analysis_id))
            if analysis_log_handler is not None:
                stack.enter_context(_root_handler(analysis_log_handler, analysis_log_level))
            return answer(
                self.service,
                question_uuid=analysis_id,
                input_values=_loaded(input_values),
                input_manifest=_primitive(_loaded(input_manifest)),
                children=children,
                handle_monitor_message=handle_monitor_message,
                originator_question_uuid=originator_question_uuid,
                originator=originator,
                allow_local_files=True,
                save_diagnostics=save_diagnostics,
            )


def _loaded(source: Any) -> Any:
    """Inputs given as the path of a JSON file or as JSON text, loaded; data as it is."""
    if isinstance(source, (str, bytes, os.PathLike)):
        return load_json_source(source)[0]
    return source


def _primitive(manifest: Any) -> Any:
    return manifest.to_primitive() if hasattr(manifest, "to_primitive") else manifest


def _directory_of(app_src: Any) -> Path:
    if isinstance(app_src, (str, os.PathLike)):
        path = Path(app_src).resolve()
        return path if path.is_dir() else path.parent
    return Path.cwd()


def _entrypoint(app_src: Any) -> Callable[[Any], None]:
    """The app as a function of the analysis, from any of Octue's four kinds of `app_src`."""
    if isinstance(app_src, (str, os.PathLike)):
        return load_app(app_src)
    if inspect.isclass(app_src):
        return lambda analysis: app_src(analysis).run()
    if callable(getattr(app_src, "run", None)):
        return app_src.run
    if callable(app_src):
        return app_src
    raise TypeError(
        f"app_src must be a folder holding app.py, an app file, a module or object with run(analysis), an App class "
        f"or a function of the analysis, not {app_src!r}."
    )


@contextlib.contextmanager
def _root_handler(handler: logging.Handler, level: int):
    root = logging.getLogger()
    previous = root.level
    handler.setLevel(level)
    root.addHandler(handler)
    if root.level > level or root.level == logging.NOTSET:
        root.setLevel(level)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


__all__ = ["DEFAULT_SERVICE_ID", "Runner"]
