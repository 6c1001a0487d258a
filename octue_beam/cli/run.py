"""`octue-beam run [SERVICE_DIR]`: serve a service as a Beam streaming pipeline (locally the work is in
`cli.supervising`, which runs the pipeline in a child process with `cli.serving`; on Dataflow in `cli.serving`).

Options this command does not know are Beam pipeline options (and ServiceOptions, e.g. `--heartbeat_interval 5`):
its parser keeps them in `args.pipeline_args`, except a typo of one of its own options (`--askk`), refused at once.
The pipeline process (or the Dataflow submission) checks the others against Beam's parsers before it builds
anything (`cli.serving.check_pipeline_arguments`), so `--heartbeat_intervall` is an error too, not a warning.
"""

import argparse
import os
from typing import Any

from octue_beam.cli.arguments import TYPO_CUTOFF, CommandError

#: `--runner` values that submit to Dataflow (as `octue_beam.pipeline.runners` reads them; that module imports Beam).
#: Any other value is served locally, and the pipeline process refuses the names no local runner answers to.
DATAFLOW_NAMES = ("dataflow", "dataflowrunner")

#: Real pipeline options so close to one of `run`'s own (`--service`) that the typo check would refuse them: they pass
#: through to Beam (tests/cli/test_arguments.py checks that this lists every such Beam option).
PIPELINE_OPTIONS_NEAR_RUN_OPTIONS = ("--service_dir", "--beam_services")


def add_parser(subparsers: Any) -> None:
    """Register the `run` command."""
    parser = subparsers.add_parser(
        "run",
        help="Serve a service: run it as a Beam streaming pipeline answering questions from Pub/Sub.",
        description=(
            "Load the service in SERVICE_DIR and run it as a streaming pipeline reading questions for its SRUID from "
            "Pub/Sub and answering them. Locally (DirectRunner), the Pub/Sub and Cloud Storage emulators are started "
            "when PUBSUB_EMULATOR_HOST is unset and no project is configured. The service folder is checked before "
            "anything starts. Any other option is passed to Beam as a pipeline option, e.g. --heartbeat_interval 5, "
            "--max_concurrent_questions 20, --dead_letter_topic NAME, --subscription NAME, --services_topic NAME, "
            "--max_message_bytes N, or Dataflow's --region, --temp_location, --dry_run True; an option that is "
            "neither this command's nor Beam's is an error. Locally it serves until stopped with Ctrl-C, or "
            "`kill -INT PID` or `kill -TERM PID` (also when a script started it in the background), and then stops "
            "everything it started. The ready message shows an `ask` command for another shell, with the example "
            "input of the service's folder (data/input/values.json, data/input/manifest.json, ...) or placeholder "
            "values made from its twine."
        ),
        unknown_options_dest="pipeline_args",
        typo_cutoff=TYPO_CUTOFF,
        passed_through=PIPELINE_OPTIONS_NEAR_RUN_OPTIONS,
    )
    parser.add_argument("service_dir", nargs="?", default=".", help="folder of the service's octue.yaml (default: .)")
    parser.add_argument("--runner", default="DirectRunner", help="DirectRunner (local, default) or DataflowRunner")
    parser.add_argument(
        "--revision-tag",
        "--revision_tag",
        dest="revision_tag",
        help="revision tag of the service (default: $OCTUE_SERVICE_REVISION_TAG, else 'local')",
    )
    parser.add_argument(
        "--service",
        "--service_name",
        dest="service",
        metavar="NAME",
        help="serve only this service of SERVICE_DIR's octue.yaml when it lists several (default: all of them, each "
        "in its own pipeline process; on Dataflow --service is needed)",
    )
    parser.add_argument("--project", help="Google Cloud project (default: the configured one, else local emulators)")
    parser.add_argument(
        "--with",
        dest="companions",
        action="append",
        default=[],
        metavar="OTHER_SERVICE_DIR",
        help="also serve this service (e.g. a child; every service of its octue.yaml) in a subprocess on the same "
        "emulators; repeatable (local runs only)",
    )
    parser.add_argument(
        "--ask",
        metavar="INPUT_VALUES",
        help="once the service is ready, ask it one question with these input values (JSON or the path of a JSON "
        'file), print the answer as JSON {"question_uuid", "output_values", "output_manifest"} (as `ask` does), '
        "stop everything and exit (local runs only)",
    )
    parser.add_argument(
        "--ask-manifest",
        metavar="FILE",
        help="input manifest (JSON or a JSON file) of the question to ask (with --ask, or alone); its local datasets "
        "are uploaded to the local storage emulator first (paths relative to the current folder)",
    )
    parser.add_argument(
        "--ask-timeout", type=float, default=300, help="seconds to wait for the --ask answer (default: 300)"
    )
    parser.add_argument(
        "--record-events",
        metavar="DIR",
        help="also run the event recorder (`record-events`) beside the services, writing every question and event "
        "of the services topic to the event store in the folder DIR (e.g. .octue-beam/events), stopped with "
        "everything else; read it with `events get`/`events replay` (local runs only)",
    )
    # Internal: the pipeline process of a local run, started by the `run` that supervises it (cli.supervising).
    parser.add_argument("--control-fd", dest="control_fd", type=int, help=argparse.SUPPRESS)
    parser.set_defaults(handler=handle, pipeline_args=[], run_options=parser.own_options)


def handle(args: argparse.Namespace) -> int:
    """Serve the service: locally, supervise its pipeline process until interrupted; or submit it to Dataflow."""
    # The deliberate lazy imports: `cli.serving` loads apache_beam (~1.5 s), which `--help` and the other commands
    # must not pay for, and the local supervisor never needs (its pipeline process imports it).
    if args.control_fd is not None:
        from octue_beam.cli import serving

        return serving.serve_pipeline(args)
    if str(args.runner).lower() in DATAFLOW_NAMES:
        if args.record_events:
            raise CommandError(
                "--record-events records a local run; on Dataflow run the recorder itself: python -m octue_beam "
                "record-events --runner DataflowRunner --table PROJECT.DATASET.TABLE"
            )
        from octue_beam.cli import serving

        return serving.submit(args)
    # The first pipeline process starts before anything else, so that its import of Beam overlaps this process's
    # (`cli.warm_start`), when SERVICE_DIR looks like a service (a mistyped folder gets its error without it).
    from octue_beam.cli.warm_start import WarmProcess

    looks_served = os.path.isfile(os.path.join(args.service_dir, "octue.yaml"))
    warm = WarmProcess(["run", os.path.abspath(args.service_dir)]) if looks_served else None
    from octue_beam.cli import supervising

    return supervising.supervise(args, warm)
