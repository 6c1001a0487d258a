"""Runner selection for service pipelines.

Service pipelines are streaming pipelines reading Pub/Sub. Locally the only Beam runner that reads Pub/Sub is the
legacy Python `BundleBasedDirectRunner` (Beam's `DirectRunner` name first tries Prism, which downloads a binary from
the internet and cannot read Pub/Sub), so `DirectRunner` is mapped onto it. On Google Cloud, `DataflowRunner` runs the
same graph. Streaming is always on.
"""

from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

LOCAL_RUNNER = "BundleBasedDirectRunner"
DATAFLOW_RUNNER = "DataflowRunner"

#: Runner names a user may give, mapped to the runner that is used.
_RUNNER_ALIASES = {
    None: LOCAL_RUNNER,
    "": LOCAL_RUNNER,
    "direct": LOCAL_RUNNER,
    "directrunner": LOCAL_RUNNER,
    "switchingdirectrunner": LOCAL_RUNNER,
    "bundlebaseddirectrunner": LOCAL_RUNNER,
    "prism": LOCAL_RUNNER,
    "prismrunner": LOCAL_RUNNER,
    "dataflow": DATAFLOW_RUNNER,
    "dataflowrunner": DATAFLOW_RUNNER,
}


def resolve_runner_name(runner: object) -> str:
    """The runner name used for a user's `--runner` value (DirectRunner/Prism -> BundleBasedDirectRunner)."""
    if runner is not None and not isinstance(runner, str):
        return type(runner).__name__
    name = _RUNNER_ALIASES.get((runner or "").lower())
    if name is None:
        raise ValueError(
            f"The runner {runner!r} cannot run a service pipeline: use DirectRunner (local, runs on "
            f"{LOCAL_RUNNER}) or DataflowRunner."
        )
    return name


def select_runner(options: PipelineOptions) -> str:
    """Set the runner (DirectRunner -> BundleBasedDirectRunner) and streaming mode on `options`; return the runner
    name."""
    standard = options.view_as(StandardOptions)
    name = resolve_runner_name(standard.runner)
    standard.runner = name
    standard.streaming = True
    return name

