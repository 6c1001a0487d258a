"""`octue-beam record-events [--store DIR | --table PROJECT.DATASET.TABLE] ...`: record every question and event of
the services topic in an event store, with a streaming Beam pipeline of its own (`octue_beam.events.recording`).

Locally (DirectRunner) it writes Parquet files under a folder (default `.octue-beam/events`) until stopped with
Ctrl-C, `kill -INT PID` or `kill -TERM PID`, writing what it still holds before it leaves. With `--runner
DataflowRunner` it submits the recorder (or only builds it, with `--dry_run True`) writing to a BigQuery table: the
one given, else octue.yaml's `event_store_table_id` (in `--service-dir`, default: the current folder). Options this
command does not know are Beam pipeline options, checked against Beam's parsers.

`RecorderProcess` runs this command in a subprocess: `run --record-events DIR` starts one beside the services it
serves (`cli.supervising`), and tests do too. This module imports Beam only in the handler (`_record`).
"""

import argparse
import os
import subprocess
import sys
import threading
import time
from typing import Any, NoReturn, TextIO

from octue_beam.cli.arguments import TYPO_CUTOFF, CommandError
from octue_beam.processes import die_with_parent, stop_process_group

#: The line a local recorder prints once its subscription exists and its pipeline runs.
RECORDER_READY = "The event recorder is ready"
#: The pull ack deadline of the subscription a local recorder creates (see `cli.serving.LOCAL_ACK_DEADLINE_SECONDS`).
LOCAL_ACK_DEADLINE_SECONDS = 10
DATAFLOW_NAMES = ("dataflow", "dataflowrunner")
#: Messages per pull of the local runner (Beam's default is 10; see `octue_beam.pipeline.local_reads`).
LOCAL_PULL_SIZE = 100


def add_parser(subparsers: Any) -> None:
    """Register the `record-events` command."""
    parser = subparsers.add_parser(
        "record-events",
        help="Record every question and event of the services topic in an event store (Parquet files or BigQuery).",
        description=(
            "Run the event recorder: a streaming Beam pipeline reading every message of the services topic from its "
            "own subscription (created if missing, with no filter: questions and every response) and writing each "
            "as a row of the event store (docs/events.md): Parquet files under --store (default .octue-beam/events), "
            "a file per --window-seconds window in a date=YYYY-MM-DD folder per day, or a BigQuery table with "
            "--table. Locally it reads the Pub/Sub emulator at $PUBSUB_EMULATOR_HOST (the one `run` started: its "
            "ready message shows it; `run --record-events DIR` starts a recorder for you) or the project of "
            "--project; it records until stopped with Ctrl-C, or `kill -INT PID` or `kill -TERM PID`, and writes "
            "what it holds before it leaves. With --runner DataflowRunner it submits the recorder writing to "
            "--table, or octue.yaml's event_store_table_id (add --dry_run True to only build it). Any other option "
            "is a Beam pipeline option (e.g. --region, --temp_location)."
        ),
        unknown_options_dest="pipeline_args",
        typo_cutoff=TYPO_CUTOFF,
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--store", metavar="DIR", help="local folder of the Parquet files (default: .octue-beam/events)")
    where.add_argument(
        "--table",
        metavar="PROJECT.DATASET.TABLE",
        help="BigQuery table to write to instead (DATASET.TABLE: in --project); created if missing",
    )
    parser.add_argument(
        "--subscription",
        metavar="NAME",
        help="the recorder's own subscription (default: <services topic>.event-recorder); created if missing",
    )
    parser.add_argument(
        "--services-topic",
        "--services_topic",
        dest="services_topic",
        metavar="TOPIC",
        help="name or path of the services topic (default: $TWINED_SERVICES_TOPIC_NAME, else "
        "main.octue.twined.services)",
    )
    parser.add_argument(
        "--window-seconds",
        "--window_seconds",
        dest="window_seconds",
        type=float,
        default=10.0,
        metavar="N",
        help="seconds of events per Parquet file (default: 10); a window's file is written once it has ended",
    )
    parser.add_argument("--runner", default="DirectRunner", help="DirectRunner (local, default) or DataflowRunner")
    parser.add_argument("--project", help="Google Cloud project (default: the configured one)")
    parser.add_argument(
        "--service-dir",
        default=".",
        metavar="DIR",
        help="on Dataflow without --table: the folder of the octue.yaml whose event_store_table_id names the table "
        "(default: .)",
    )
    parser.set_defaults(handler=handle, pipeline_args=[])


def handle(args: argparse.Namespace) -> int:
    """Check the arguments, then run the recorder (Beam is imported here, not with the parser)."""
    dataflow = str(args.runner).lower() in DATAFLOW_NAMES
    if args.window_seconds is not None and not 0 < args.window_seconds <= 86400:
        raise CommandError(f"--window-seconds must be more than 0 and at most 86400, not {args.window_seconds:g}")
    if dataflow:
        if args.store:
            raise CommandError("--store is a local folder, which Dataflow's workers cannot write: give --table")
        args.table = args.table or _configured_table(args.service_dir)
    elif not os.environ.get("PUBSUB_EMULATOR_HOST") and not _project(args):
        raise CommandError(
            "there is no Pub/Sub to record: set PUBSUB_EMULATOR_HOST to the emulator of a running `python -m "
            "octue_beam run` (its ready message shows it), or give --project for Google Cloud's Pub/Sub; or record "
            "a local run with `run --record-events DIR`"
        )
    return _record(args, dataflow)


def _project(args: argparse.Namespace) -> str | None:
    from octue_beam.environment import configured_project

    return configured_project(args.project)


def _configured_table(service_dir: str) -> str:
    """The `event_store_table_id` of the octue.yaml in `service_dir` (every service it lists must agree)."""
    from octue_beam.service.configuration import load_service_configuration, service_names

    try:
        tables = {
            load_service_configuration(service_dir, service_name=name).event_store_table_id
            for name in service_names(service_dir)
        }
    except Exception as error:  # noqa: BLE001 - no octue.yaml there: say what to give
        raise CommandError(
            f"--table not given and octue.yaml cannot be read for event_store_table_id: {error}"
        ) from None
    tables.discard(None)
    if len(tables) != 1:
        found = "none" if not tables else ", ".join(sorted(tables))
        raise CommandError(
            f"on Dataflow the recorder writes to BigQuery: give --table PROJECT.DATASET.TABLE (event_store_table_id in "
            f"{os.path.abspath(service_dir)}/octue.yaml: {found})"
        )
    return tables.pop()


def _pipeline_arguments(args: argparse.Namespace) -> list[str]:
    """The command's options in Beam's form, after the pipeline options it passed through."""
    argv = list(args.pipeline_args) + ["--runner", args.runner]
    for option, pipeline_option in (
        ("store", "--event_store"),
        ("table", "--event_table"),
        ("subscription", "--event_subscription"),
        ("services_topic", "--event_topic"),
        ("project", "--project"),
    ):
        value = getattr(args, option)
        if value:
            argv += [pipeline_option, value]
    return argv + ["--event_window_seconds", str(args.window_seconds)]


def _check_pipeline_arguments(arguments: list[str]) -> None:
    """CommandError naming the first argument that is neither this command's nor a Beam pipeline option."""
    from apache_beam.options.pipeline_options import PipelineOptions, _BeamArgumentParser

    from octue_beam.cli.arguments import option_name, unknown_option_message
    from octue_beam.events.recording import RecorderOptions

    parser = _BeamArgumentParser(allow_abbrev=False)
    classes = {str(cls): cls for cls in (*PipelineOptions.__subclasses__(), RecorderOptions)}
    for cls in classes.values():
        cls._add_argparse_args(parser)
    _, unknown = parser.parse_known_args(arguments)
    options = [name for name in map(option_name, unknown) if name is not None]
    if options:
        known = [option for action in parser._actions for option in action.option_strings]
        raise CommandError(
            f"{unknown_option_message(options[0], known)} (neither an option of `record-events` nor a Beam pipeline "
            "option; see `python -m octue_beam record-events --help`)"
        )
    if unknown:
        raise CommandError(f"unexpected argument {unknown[0]!r}")


def _record(args: argparse.Namespace, dataflow: bool) -> int:
    # The deliberate lazy imports: Beam (~1.5 s) and the pipeline's helpers, which `--help` must not pay for.
    from apache_beam.options.pipeline_options import PipelineOptions

    from octue_beam.events.recording import RecorderOptions, build_recorder_pipeline, ensure_recorder_subscription
    from octue_beam.pipeline.local_reads import set_local_pull_size
    from octue_beam.pipeline.runners import select_runner

    arguments = _pipeline_arguments(args)
    _check_pipeline_arguments(arguments)
    options = PipelineOptions(arguments)
    options.view_as(RecorderOptions)
    try:
        runner = select_runner(options)
        pipeline, plan, record = build_recorder_pipeline(options)
    except ValueError as error:
        raise CommandError(str(error)) from None
    dry_run = str(options.get_all_options().get("dry_run", "")).lower() in ("true", "1")
    if dataflow:
        if not dry_run:
            ensure_recorder_subscription(plan)
        pipeline.run()
        print(f"Event recorder: pipeline {'built (dry run)' if dry_run else 'submitted'} on {runner}.")
        print(f"  reads {plan.subscription_path} (every message of {plan.topic_path}), writes {plan.destination}")
        return 0
    set_local_pull_size(LOCAL_PULL_SIZE)
    ensure_recorder_subscription(plan, LOCAL_ACK_DEADLINE_SECONDS)
    _serve(pipeline, plan, record)


def _serve(pipeline: Any, plan: Any, record: Any) -> NoReturn:
    """Run the local recorder until SIGINT/SIGTERM or until its pipeline fails; then record what still waits in its
    subscription, write everything it holds and leave (the pipeline is not waited for: the local runner's pull
    blocks for up to 30 s)."""
    from octue_beam.cli.signals import stop_signals_as_keyboard_interrupt
    from octue_beam.events.recording import record_waiting_messages

    code = 0
    with stop_signals_as_keyboard_interrupt():
        try:
            result = pipeline.run()
            print(
                f"Recording every message of {plan.topic_path} (subscription {plan.subscription_path}) to "
                f"{plan.destination}, a file per {plan.window_seconds:g} s window.",
                flush=True,
            )
            print(
                f"{RECORDER_READY} (stop it with Ctrl-C, or kill -INT {os.getpid()} or kill -TERM {os.getpid()}).",
                flush=True,
            )
            result.wait_until_finish()
            print("The event recorder's pipeline stopped by itself.", file=sys.stderr)
            code = 1
        except KeyboardInterrupt:
            pass
        except Exception as error:  # noqa: BLE001 - reported, exit code 1
            print(f"The event recorder stopped: {type(error).__name__}: {error}", file=sys.stderr)
            code = 1
        try:
            record_waiting_messages(plan, record)
        except Exception as error:  # noqa: BLE001 - what it holds is still written
            print(f"Could not record the messages still waiting in {plan.subscription_path}: {error}", file=sys.stderr)
        files = record.close()
    print(f"The event recorder stopped; it wrote {files} file(s) to {plan.destination}.", file=sys.stderr, flush=True)
    sys.stdout.flush()
    os._exit(code)


class RecorderProcess:
    """`python -m octue_beam record-events` in a subprocess (its own process group) writing to the folder `store`,
    on `topic_name` (default: the environment's services topic) in `project` (default: the environment's), with
    the environment's Pub/Sub emulator; `extra_args` are more options of the command. Its output lines are kept in
    `output` and, with `echo`, written to that stream. `launch()` starts it, `wait_until_ready()` waits for its
    ready line, `stop()` stops it (SIGTERM: it writes what it holds, then leaves)."""

    def __init__(self, store: str | os.PathLike, *extra_args: str, project: str | None = None,
                 topic_name: str | None = None, window_seconds: float | None = None, log_level: str = "INFO",
                 echo: TextIO | None = None, die_with_parent: bool = False) -> None:
        self.store = os.path.abspath(os.fspath(store))
        self.command = [
            sys.executable, "-m", "octue_beam", "--log-level", log_level, "record-events", "--store", self.store
        ]
        if project:
            self.command += ["--project", project]
        if topic_name:
            self.command += ["--services-topic", topic_name]
        if window_seconds is not None:
            self.command += ["--window-seconds", str(window_seconds)]
        self.command += list(extra_args)
        self.echo = echo
        self.die_with_parent = die_with_parent
        self.output: list[str] = []
        self.process: subprocess.Popen | None = None
        self._ready = threading.Event()

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def launch(self) -> "RecorderProcess":
        self.process = subprocess.Popen(
            self.command, env={**os.environ, "PYTHONUNBUFFERED": "1"}, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, start_new_session=True,
            preexec_fn=die_with_parent() if self.die_with_parent else None,
        )
        threading.Thread(target=self._read, args=(self.process,), name="event-recorder-output", daemon=True).start()
        return self

    def wait_until_ready(self, timeout: float = 120) -> "RecorderProcess":
        """Wait for the ready line; stop it and raise RuntimeError (with its output) if it exits or `timeout` s
        pass first."""
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.2):
            if self.process is None or self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("The event recorder did not start:\n" + "\n".join(self.output[-40:]))
        return self

    def start(self, timeout: float = 120) -> "RecorderProcess":
        return self.launch().wait_until_ready(timeout)

    def stop(self, timeout: float = 30) -> int | None:
        """Stop it (SIGTERM, SIGKILL after `timeout` s); its exit code. Idempotent."""
        process, self.process = self.process, None
        if process is None:
            return None
        stop_process_group(process, terminate_wait=timeout, kill_wait=5)
        return process.returncode

    def _read(self, process: subprocess.Popen) -> None:
        for line in process.stdout:
            line = line.rstrip("\n")
            self.output.append(line)
            if self.echo is not None:
                print(line, file=self.echo, flush=True)
            if RECORDER_READY in line:
                self._ready.set()

    def __enter__(self) -> "RecorderProcess":
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()
