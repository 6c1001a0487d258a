"""Flex Template launch file: build the service pipeline from pipeline options, submit it, exit.

The Dataflow Flex Template launcher runs `python launch.py <--option value>...` with the template's parameters
(every one a declared pipeline option: see octue_beam.pipeline.options.ServiceOptions). The service folder is baked
into the image (`--service_dir`, default: $OCTUE_SERVICE_DIR or the current directory). The program must exit
after `run()` (the launcher waits for it), so it never waits for the streaming job.
"""

import logging
import os
import sys


def main(argv: list[str] | None = None) -> int:
    from apache_beam.options.pipeline_options import PipelineOptions

    from octue_beam.pipeline import build_service_pipeline

    argv = list(sys.argv[1:] if argv is None else argv)
    if not any(arg == "--service_dir" or arg.startswith("--service_dir=") for arg in argv):
        argv += ["--service_dir", os.environ.get("OCTUE_SERVICE_DIR", ".")]
    if not any(arg == "--runner" or arg.startswith("--runner=") for arg in argv):
        argv += ["--runner", "DataflowRunner"]
    options = PipelineOptions(argv)
    pipeline, plan = build_service_pipeline(options)
    logging.info("Launching %s: %s -> %s on %s.", plan.sruid, plan.subscription_path, plan.topic_path, plan.runner)
    pipeline.run()
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    raise SystemExit(main())
