"""The Flex Template launch entry: build the service pipeline from the template's parameters, run it, exit.

Dataflow's launcher runs the file `$FLEX_TEMPLATE_PYTHON_PY_FILE` (in a default image, three lines calling `main`; in
this repository, `pipelines/launch.py`) with the template's parameters as `--<name>=<value>` arguments, followed by
Dataflow's own pipeline options (`--runner`, `--project`, `--region`, `--job_name`, ...). Every parameter is a
declared pipeline option (`octue_beam.pipeline.options.ServiceOptions`, or Beam's own), so the arguments are pipeline
options as they are. The service folder is baked into the image: `--service_dir` defaults to `$OCTUE_SERVICE_DIR`
(else the current directory), the runner to Dataflow.

Before the pipeline runs, the services topic, this revision's filtered subscription and the dead-letter topic are
created if missing (as `run --runner DataflowRunner` does; not on `--dry_run`), so a first launch needs nothing made
by hand. On Dataflow the launcher waits for this program, so it exits once the job is submitted and never waits for
the streaming job. On the local runner the pipeline lives in this process, so it serves until stopped (useful to try
the entry with the template's parameters against the Pub/Sub emulator).
"""

import logging
import os
import sys
from collections.abc import Sequence

from apache_beam.options.pipeline_options import PipelineOptions
from google.api_core.exceptions import Forbidden

from octue_beam.messaging.pubsub import ensure_service_resources
from octue_beam.pipeline.building import ServicePlan, build_service_pipeline
from octue_beam.pipeline.runners import DATAFLOW_RUNNER

logger = logging.getLogger(__name__)

SERVICE_DIR_VARIABLE = "OCTUE_SERVICE_DIR"


def main(argv: Sequence[str] | None = None) -> int:
    """Build the service pipeline from `argv` (default: `sys.argv[1:]`), create its Pub/Sub resources if missing,
    run it; return 0 once a Dataflow job is submitted (or the dry run built), or once a local pipeline ends."""
    logging.basicConfig(level=logging.INFO)
    options = PipelineOptions(launch_arguments(sys.argv[1:] if argv is None else argv))
    pipeline, plan = build_service_pipeline(options)
    dry_run = is_dry_run(options)
    if not dry_run:
        ensure_resources(plan)
    logger.info(
        "Launching %s: %s -> %s on %s%s.",
        plan.sruid,
        plan.subscription_path,
        plan.topic_path,
        plan.runner,
        " (dry run)" if dry_run else "",
    )
    result = pipeline.run()
    if plan.runner == DATAFLOW_RUNNER:
        job_id = getattr(result, "job_id", None)
        if callable(job_id) and not dry_run:
            logger.info("Submitted Dataflow job %s for %s.", job_id(), plan.sruid)
        return 0
    result.wait_until_finish()
    return 0


def launch_arguments(argv: Sequence[str]) -> list[str]:
    """The pipeline arguments: `argv` with `--service_dir` ($OCTUE_SERVICE_DIR, else ".") and `--runner`
    (DataflowRunner) added when absent."""
    arguments = list(argv)
    if not _given(arguments, "--service_dir"):
        arguments += ["--service_dir", os.environ.get(SERVICE_DIR_VARIABLE) or "."]
    if not _given(arguments, "--runner"):
        arguments += ["--runner", DATAFLOW_RUNNER]
    return arguments


def is_dry_run(options: PipelineOptions) -> bool:
    """Whether Beam's `--dry_run` is on (the Dataflow graph is built, nothing is submitted)."""
    return str(options.get_all_options().get("dry_run", "")).lower() in ("true", "1")


def ensure_resources(plan: ServicePlan) -> None:
    """Create the services topic, the revision's filtered subscription and the dead-letter topic if missing.

    An identity that may not create them (only read and publish) gets a warning instead of a failed launch: they may
    have been made beforehand, and the job fails clearly by itself if the subscription is missing.
    """
    try:
        ensure_service_resources(plan.topic_path, plan.subscription_path, plan.sruid, plan.dead_letter_topic)
    except Forbidden as error:
        logger.warning(
            "Could not make sure %s and %s exist (%s); launching with them as they are.",
            plan.topic_path,
            plan.subscription_path,
            error,
        )


def _given(arguments: list[str], option: str) -> bool:
    return any(argument == option or argument.startswith(option + "=") for argument in arguments)
