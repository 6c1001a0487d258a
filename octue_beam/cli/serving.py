"""The Beam side of `octue-beam run`: the pipeline process of a local run, and submitting to Dataflow.

Locally, `run` is a supervisor (`cli.supervising`, which does not import Beam) that starts the emulators and runs
the pipeline in a child process: `python -m octue_beam run ... --control-fd N`, which lands in `serve_pipeline`
here. It builds the service's streaming pipeline, creates the topic and subscription if missing, runs the pipeline
on the local runner, reports on the control pipe (file descriptor N) that it is ready and what it serves, and
answers questions until the supervisor stops it (SIGTERM) or the pipeline fails. With `--runner DataflowRunner`,
`submit` builds the same graph, submits it (or only builds it, with `--dry_run True`) and returns.

Both first check the options `run` passed through as pipeline options against Beam's own parsers (every
`PipelineOptions` subclass, `ServiceOptions` included: what Beam itself would parse): an option none of them knows
is an error naming it and the closest known option, where Beam would only log "Unparseable argument" and discard it.

This module imports Beam (through `cli.lean_beam`, without the pandas and pyarrow serving never uses): `cli.run`
imports it only when a pipeline is built in this process.
"""

import argparse
import json
import logging
import os
import sys
import threading
from collections.abc import Iterable
from typing import NoReturn, TextIO

from octue_beam.cli import lean_beam  # noqa: F401 - first: Beam without pandas and pyarrow (see there)

# isort: split
from apache_beam.options.pipeline_options import PipelineOptions, _BeamArgumentParser
from apache_beam.runners.runner import PipelineResult

from octue_beam.cli.arguments import CommandError, option_name, unknown_option_message
from octue_beam.cli.signals import sigterm_as_keyboard_interrupt
from octue_beam.messaging.pubsub import ensure_service_resources
from octue_beam.pipeline.building import ServicePlan, build_service_pipeline
from octue_beam.pipeline.options import ServiceOptions
from octue_beam.resources import cache


def beam_option_parser() -> _BeamArgumentParser:
    """A parser of every pipeline option Beam knows in this process, built as `PipelineOptions.get_all_options`
    builds it (one `_add_argparse_args` per `PipelineOptions` subclass; `ServiceOptions` is one of them)."""
    parser = _BeamArgumentParser(allow_abbrev=False)
    classes = {str(cls): cls for cls in (*PipelineOptions.__subclasses__(), ServiceOptions)}
    for cls in classes.values():
        cls._add_argparse_args(parser)
    return parser


def check_pipeline_arguments(arguments: list[str], run_options: Iterable[str] = ()) -> None:
    """CommandError naming the first argument that is neither a Beam pipeline option nor its value (and the
    closest option of `run` or Beam), e.g. `unknown option --heartbeat_intervall; did you mean
    --heartbeat_interval?`."""
    parser = beam_option_parser()
    _, unknown = parser.parse_known_args(arguments)
    if not unknown:
        return
    known = [*run_options, *(option for action in parser._actions for option in action.option_strings)]
    options = [name for name in map(option_name, unknown) if name is not None]
    if options:
        raise CommandError(
            f"{unknown_option_message(options[0], known)} (neither an option of `run` nor a Beam pipeline option; "
            "see `python -m octue_beam run --help`)"
        )
    raise CommandError(f"unexpected argument {unknown[0]!r} (`run` takes one SERVICE_DIR)")


def _pipeline_options(args: argparse.Namespace, project: str | None) -> PipelineOptions:
    """The command's own options in Beam's form, after the pipeline options it passed through."""
    argv = list(args.pipeline_args)
    argv += ["--service_dir", os.path.abspath(args.service_dir), "--runner", args.runner]
    if args.revision_tag:
        argv += ["--revision_tag", args.revision_tag]
    if getattr(args, "service", None):
        argv += ["--service_name", args.service]
    if project:
        argv += ["--project", project]
    return PipelineOptions(argv)


#: Ack deadline of a subscription the local runner creates. That runner acknowledges messages when it pulls them, so
#: the deadline only matters for a message handed to a pull whose process then died (a crash, SIGKILL): the emulator
#: gives it to the new process once the deadline passes, and Pub/Sub's usual 600 s would hide it that long.
LOCAL_ACK_DEADLINE_SECONDS = 10


def _ensure_resources(plan: ServicePlan, ack_deadline_seconds: int | None = None) -> None:
    """The services topic, this revision's subscription (filtered on its SRUID) and the dead-letter topic."""
    options = {} if ack_deadline_seconds is None else {"ack_deadline_seconds": ack_deadline_seconds}
    ensure_service_resources(plan.topic_path, plan.subscription_path, plan.sruid, plan.dead_letter_topic, **options)


# --- on Dataflow ----------------------------------------------------------------------------------


def submit(args: argparse.Namespace) -> int:
    """Build the graph and submit it (Dataflow); exit after `run()` as a Flex Template launcher must."""
    check_pipeline_arguments(args.pipeline_args, getattr(args, "run_options", ()))
    options = _pipeline_options(args, args.project)
    pipeline, plan = build_service_pipeline(options)
    dry_run = str(options.get_all_options().get("dry_run", "")).lower() in ("true", "1")
    if not dry_run:
        _ensure_resources(plan)
    result = pipeline.run()
    print(f"Service {plan.sruid}: pipeline {'built (dry run)' if dry_run else 'submitted'} on {plan.runner}.")
    print(f"  reads {plan.subscription_path}, answers on {plan.topic_path}")
    job_id = getattr(result, "job_id", None)
    if callable(job_id):
        try:
            print(f"  job id: {job_id()}")
        except Exception:  # noqa: BLE001 - dry runs have no job
            pass
    return 0


# --- the pipeline process of a local run ------------------------------------------------------------


def serve_pipeline(args: argparse.Namespace) -> NoReturn:
    """Run the service's pipeline on the local runner until SIGTERM or until it fails (then exit 1), reporting on
    `args.control_fd` when it is ready. Errors before the pipeline runs propagate (the command's one-paragraph
    error, exit code 1); once it runs, the process leaves with `os._exit` (see `_exit`)."""
    control = os.fdopen(args.control_fd, "w", buffering=1)
    check_pipeline_arguments(args.pipeline_args, getattr(args, "run_options", ()))
    result = None
    code = 0
    with sigterm_as_keyboard_interrupt():
        try:
            pipeline, plan = build_service_pipeline(_pipeline_options(args, args.project))
            _ensure_resources(plan, LOCAL_ACK_DEADLINE_SECONDS)
            result = pipeline.run()
            _report_ready(control, plan)
            code = _wait(result, plan)
        except KeyboardInterrupt:
            code = 0
        finally:
            if result is not None:
                threading.Thread(target=_cancel_quietly, args=(result,), daemon=True).start()
    _exit(code)


def _report_ready(control: TextIO, plan: ServicePlan) -> None:
    """Tell the supervisor what this process serves (one JSON line): it prints the ready message and asks with it."""
    report = {
        "ready": {
            "sruid": plan.sruid,
            "runner": plan.runner,
            "project": plan.project,
            "topic_path": plan.topic_path,
            "topic_name": plan.topic_name,
            "subscription_path": plan.subscription_path,
            "pid": os.getpid(),
        }
    }
    control.write(json.dumps(report, default=str) + "\n")
    control.flush()


def _wait(result: PipelineResult, plan: ServicePlan) -> int:
    """Serve until interrupted; 1 if the pipeline stops by itself (e.g. it lost the emulator)."""
    try:
        result.wait_until_finish()
    except KeyboardInterrupt:
        raise
    except Exception as error:  # noqa: BLE001 - reported, exit code 1
        print(f"The service pipeline of {plan.sruid} stopped: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    return 0


def _cancel_quietly(result: PipelineResult) -> None:
    try:
        result.cancel()
    except Exception:  # noqa: BLE001 - the process is leaving anyway
        pass


def _exit(code: int) -> NoReturn:
    """Leave at once: the local runner's pull blocks for up to 30 s and question threads may still run (the
    supervisor answers the questions they had in flight). The temporary folder goes first: `os._exit` skips atexit."""
    sys.stdout.flush()
    sys.stderr.flush()
    cache.clear()
    logging.shutdown()
    os._exit(code)
