"""`octue-beam batch SERVICE_DIR --questions FILE --answers OUT`: answer a file of questions with a bounded Beam
pipeline (`octue_beam.batch`); with `--questions-from-store ... --diff REPORT`, ask recorded questions again and
report whether each answer is still the recorded one (docs/batch.md).

Options this command does not know are Beam pipeline options (`--direct_num_workers 4`, `--max_concurrent_questions
20`, `--question_timeout 60`, Dataflow's `--region`...), checked against Beam's parsers before anything runs. The
handler imports Beam (and the event store) only when it runs, so `--help` stays fast.
"""

import argparse
import os
from typing import Any

from octue_beam.cli.arguments import TYPO_CUTOFF, CommandError, option_name, unknown_option_message
from octue_beam.cli.event_stores import add_store_arguments, read, store_of
from octue_beam.cli.quiet_logs import quietened
from octue_beam.deployment.dockerfiles import SERVICE_DIR_IN_IMAGE

#: Runner names that run on this machine (the batch's FnApiRunner, with several worker processes by default).
LOCAL_RUNNERS = ("direct", "directrunner", "fnapirunner")
#: Runner names that run on Dataflow, where the service folder is the one in the workers' image (`--service_dir`,
#: by default where octue_beam's images put it).
DATAFLOW_RUNNERS = ("dataflow", "dataflowrunner")
#: Below this many questions a local batch answers them in the command's own process by default: worker processes
#: take 2-5 s to start (each imports Beam and loads the service), more than a few thousand cheap questions take to
#: answer (bench/batch.py; docs/batch.md).
WORKER_PROCESSES_FROM = 2000
#: Nor does it start worker processes on a machine with fewer CPUs than this: with two, Beam's runner process (which
#: reshuffles the rows and feeds the workers) takes most of one, and two workers answered 4-23% faster than one
#: process (runs vary; an echo app and the fractal example alike: bench/batch.py), less than their start-up costs
#: over the 1,000 and 5,000 questions measured.
WORKER_PROCESSES_FROM_CPUS = 3
#: Real pipeline options close enough to this command's own to pass the typo check only by being listed.
PIPELINE_OPTIONS_NEAR_BATCH_OPTIONS = ("--service_dir", "--service_name", "--questions", "--answers")


def add_parser(subparsers: Any) -> None:
    """Register the `batch` command."""
    parser = subparsers.add_parser(
        "batch",
        help="Answer a file of questions with a bounded Beam pipeline, or ask recorded questions again (regression).",
        description=(
            "Answer every question of a JSON lines or Parquet file (rows {\"question_uuid\"?, \"input_values\"?, "
            "\"input_manifest\"?, \"children\"?}) with the service in SERVICE_DIR, through the same answering core "
            "as the streaming service, in a bounded Beam pipeline: locally in this process, or on one worker "
            "process per CPU for files of 2,000 questions or more on 3 or more CPUs (--direct_num_workers N or "
            "--direct_running_mode in_memory|multi_processing choose), or on Dataflow "
            "(--runner DataflowRunner --sdk_container_image IMAGE: the workers load the service from the image's "
            "/service, or --service_dir; files in gs://). Writes exactly one row per question to --answers (JSON "
            "lines or Parquet, by its name): question_uuid, row, status, the input, output_values and "
            "output_manifest or the exception, and the duration. A failing or invalid question is a failed row, "
            "never a failed job. Shows a progress bar and ends with a summary (answered, failed, seconds, "
            "questions/s). With --questions-from-store, asks the questions recorded in an event store "
            "(record-events) again and writes a report (--diff, HTML or Markdown) saying for each whether the new "
            "answer equals the recorded one; the exit code is then 1 when any differs. Other options are Beam "
            "pipeline options, e.g. --max_concurrent_questions 20 (questions at once per worker process), "
            "--question_timeout 60, --direct_num_workers 4. See docs/batch.md."
        ),
        unknown_options_dest="pipeline_args",
        typo_cutoff=TYPO_CUTOFF,
        passed_through=PIPELINE_OPTIONS_NEAR_BATCH_OPTIONS,
    )
    parser.add_argument("service_dir", nargs="?", default=".", help="folder of the service's octue.yaml (default: .)")
    parser.add_argument("--questions", metavar="FILE", help="the questions file (.jsonl, .ndjson, .json or .parquet)")
    parser.add_argument(
        "--answers",
        metavar="OUT",
        help="the answers file to write (.jsonl or .parquet); with --questions-from-store, optional",
    )
    parser.add_argument(
        "--service",
        dest="service",
        metavar="NAME",
        help="the service of SERVICE_DIR's octue.yaml to ask when it lists several",
    )
    parser.add_argument(
        "--revision-tag",
        "--revision_tag",
        dest="revision_tag",
        help="revision tag of the service (default: $OCTUE_SERVICE_REVISION_TAG, else 'local')",
    )
    parser.add_argument("--runner", default="DirectRunner", help="DirectRunner (local, default) or DataflowRunner")
    regression = parser.add_argument_group("regression re-runs")
    regression.add_argument(
        "--questions-from-store",
        action="store_true",
        help="ask the questions recorded in the event store again (instead of --questions); needs --diff",
    )
    add_store_arguments(regression)  # --store DIR | --table T, and --project (also passed to Beam)
    regression.add_argument(
        "--originator-question-uuid", metavar="UUID", help="only the questions of this question tree"
    )
    regression.add_argument("--since", metavar="DATE", help="only questions recorded since DATE (ISO 8601)")
    regression.add_argument(
        "--diff", metavar="REPORT", help="the report to write: REPORT.html or REPORT.md (with --questions-from-store)"
    )
    regression.add_argument(
        "--float-tolerance",
        type=float,
        metavar="X",
        help="numbers are equal when within X of each other, relatively or absolutely (default: 1e-9)",
    )
    parser.set_defaults(handler=handle, pipeline_args=[], batch_options=parser.own_options)


#: Loggers quietened to errors unless --debug: Beam's (its local runner relays every worker's start-up warnings) and
#: the answering core's line per failed question (each failure is a row of the answers file, with its exception).
QUIET_LOGGERS = ("apache_beam", "octue_beam.answering.core")


def handle(args: argparse.Namespace) -> int:
    """Answer the questions file, or re-run recorded questions and report the differences (exit code 1 if any)."""
    check_arguments(args)
    with quietened(() if args.debug else QUIET_LOGGERS):
        if args.questions_from_store:
            return _regression(args)
        summary = _run(args, args.questions, args.answers)
    print(summary)
    return 0


def check_arguments(args: argparse.Namespace) -> None:
    """CommandError naming what is wrong with the command's own arguments (before Beam is imported)."""
    if args.questions_from_store:
        if args.questions:
            raise CommandError("give either --questions FILE or --questions-from-store, not both")
        if not args.diff:
            raise CommandError("--questions-from-store needs --diff REPORT.html or REPORT.md (the report to write)")
        if args.originator_question_uuid and args.since:
            raise CommandError("give either --originator-question-uuid or --since, not both")
        if args.float_tolerance is not None and not args.float_tolerance >= 0:
            raise CommandError(f"--float-tolerance must be a number of at least 0, not {args.float_tolerance}")
        if os.path.splitext(args.diff)[1].lower() not in (".html", ".htm", ".md", ".markdown"):
            raise CommandError(f"--diff {args.diff!r}: the report must be an HTML (.html) or Markdown (.md) file")
    else:
        if not args.questions or not args.answers:
            raise CommandError(
                "give --questions FILE and --answers OUT (or --questions-from-store with --diff REPORT to ask "
                "recorded questions again)"
            )
        given = [name for name, value in (
            ("--store", args.store), ("--table", args.table), ("--originator-question-uuid",
            args.originator_question_uuid), ("--since", args.since), ("--diff", args.diff),
            ("--float-tolerance", args.float_tolerance), ("--api-endpoint", args.api_endpoint),
        ) if value is not None]
        if given:
            raise CommandError(f"{', '.join(given)} only go(es) with --questions-from-store")
        if os.path.abspath(args.questions) == os.path.abspath(args.answers):
            raise CommandError(f"--answers {args.answers!r} is the questions file: write the answers somewhere else")
    if not os.path.isdir(args.service_dir):
        raise CommandError(f"SERVICE_DIR {args.service_dir!r} is not a folder")


def _run(args: argparse.Namespace, questions: str | None, answers: str | None, rows: Any = None) -> Any:
    """Run the batch on `questions` into `answers` (the `BatchSummary`), or, given recorded event-store `rows`, ask
    their questions again (the summary and the comparisons)."""
    # The deliberate lazy imports: Beam (~1.5 s) and pyarrow only when a batch runs; Beam without pandas first.
    from octue_beam.cli.beam_imports import UNUSED_BY_BATCH, UNUSED_BY_LOCAL_BATCH, import_beam

    import_beam(UNUSED_BY_LOCAL_BATCH if runs_locally(args.runner) else UNUSED_BY_BATCH)
    from octue_beam.batch.files import QuestionsFileError, check_questions_file, file_format
    from octue_beam.batch.regression import DEFAULT_FLOAT_TOLERANCE, recorded_questions
    from octue_beam.batch.rerunning import rerun_recorded
    from octue_beam.batch.running import run_batch
    from octue_beam.service.loading import load_service

    check_pipeline_arguments(args.pipeline_args, args.batch_options)
    for option, path in (("--questions", questions), ("--answers", answers)):
        try:
            if path is not None:
                file_format(path)
        except ValueError as error:
            raise CommandError(f"{option}: {error}") from None
    folder = os.path.dirname(os.path.abspath(answers or "."))
    if answers and "://" not in answers and not os.path.isdir(folder):
        raise CommandError(f"--answers {answers!r}: there is no folder {folder!r} to write it in")
    service = load_service(
        args.service_dir, revision_tag=args.revision_tag, check_credentials=False, service_name=args.service
    )
    count = None  # how many questions, for choosing how to run them here (a Dataflow job's files are not read here)
    if runs_locally(args.runner):
        try:
            count = check_questions_file(questions) if rows is None else len(recorded_questions(rows, service.sruid))
        except QuestionsFileError as error:
            raise CommandError(f"--questions: {error}") from None
    options = pipeline_options(args, questions, answers, count)
    if rows is not None:
        tolerance = DEFAULT_FLOAT_TOLERANCE if args.float_tolerance is None else args.float_tolerance
        return rerun_recorded(rows, options, service, tolerance)
    try:
        return run_batch(options, service, total=count)
    except QuestionsFileError as error:
        raise CommandError(f"--questions: {error}") from None


def pipeline_options(
    args: argparse.Namespace, questions: str | None, answers: str | None, count: int | None = None
) -> Any:
    """The batch's pipeline options: those passed through, then the command's own in Beam's form; locally, unless
    --direct_running_mode says how, the `local_running_mode` for `count` questions (None: not known)."""
    from apache_beam.options.pipeline_options import PipelineOptions

    argv = list(args.pipeline_args)
    given = {option_name(argument) for argument in argv}
    if "--service_dir" not in given:
        dataflow = str(args.runner).lower() in DATAFLOW_RUNNERS
        argv += ["--service_dir", SERVICE_DIR_IN_IMAGE if dataflow else os.path.abspath(args.service_dir)]
    argv += ["--runner", args.runner]
    for option, value in (("--questions", questions), ("--answers", answers), ("--revision_tag", args.revision_tag),
                          ("--service_name", args.service), ("--project", args.project)):
        if value:
            argv += [option, value]
    if runs_locally(args.runner) and "--direct_running_mode" not in given:
        argv += local_running_mode(count, os.cpu_count() or 1, workers_given="--direct_num_workers" in given)
    return PipelineOptions(argv)


def local_running_mode(count: int | None, cpus: int, workers_given: bool = False) -> list[str]:
    """Beam's options for answering `count` questions (None: not known) on a machine with `cpus` CPUs: one worker
    process per CPU for at least `WORKER_PROCESSES_FROM` questions on at least `WORKER_PROCESSES_FROM_CPUS` CPUs,
    else in this process. `--direct_num_workers` given alone asks for worker processes whatever the count."""
    if workers_given:
        return ["--direct_running_mode", "multi_processing"]
    if cpus < WORKER_PROCESSES_FROM_CPUS or (count is not None and count < WORKER_PROCESSES_FROM):
        return ["--direct_running_mode", "in_memory"]
    return ["--direct_running_mode", "multi_processing", "--direct_num_workers", str(cpus)]


def runs_locally(runner: object) -> bool:
    """Whether `--runner` names the local runner (then the files are read and the questions counted here)."""
    return str(runner).lower() in LOCAL_RUNNERS


def check_pipeline_arguments(arguments: list[str], own_options: list[str]) -> None:
    """CommandError naming the first argument that is neither a Beam pipeline option (the batch's included) nor its
    value, and the closest option of `batch` or Beam."""
    from octue_beam.batch.options import BatchOptions  # noqa: F401 - registers the batch's options with Beam
    from octue_beam.cli.serving import beam_option_parser

    parser = beam_option_parser()
    _, unknown = parser.parse_known_args(arguments)
    if not unknown:
        return
    known = [*own_options, *(option for action in parser._actions for option in action.option_strings)]
    options = [name for name in map(option_name, unknown) if name is not None]
    if options:
        raise CommandError(
            f"{unknown_option_message(options[0], known)} (neither an option of `batch` nor a Beam pipeline option; "
            "see `python -m octue_beam batch --help`)"
        )
    raise CommandError(f"unexpected argument {unknown[0]!r} (`batch` takes one SERVICE_DIR)")


def _regression(args: argparse.Namespace) -> int:
    """Ask the recorded questions again, compare, write the report; 1 if any answer differs."""
    from octue_beam.batch.regression import DEFAULT_FLOAT_TOLERANCE, DIFFERENT
    from octue_beam.batch.reports import summary_line, write_report
    from octue_beam.batch.rerunning import NothingRecorded

    rows = read(
        args,
        kinds=["question", "result", "exception"],
        originator_question_uuid=args.originator_question_uuid,
        since=args.since,
    )
    try:
        summary, comparisons = _run(args, None, args.answers, rows)
    except NothingRecorded as error:
        chosen = "".join(
            f" with {name} {value}"
            for name, value in (("--originator-question-uuid", args.originator_question_uuid), ("--since", args.since))
            if value
        )
        raise CommandError(f"nothing to ask again in {store_of(args)}{chosen}: {error}") from None
    tolerance = DEFAULT_FLOAT_TOLERANCE if args.float_tolerance is None else args.float_tolerance
    line = summary_line(comparisons, summary_service(args), tolerance)
    write_report(args.diff, comparisons, line)
    print(summary)
    print(f"{line} Report: {args.diff}")
    return 1 if any(each.status == DIFFERENT for each in comparisons) else 0


def summary_service(args: argparse.Namespace) -> str:
    """The SRUID the questions were asked of again."""
    from octue_beam.service.configuration import load_service_configuration

    return load_service_configuration(args.service_dir, revision_tag=args.revision_tag, service_name=args.service).sruid
