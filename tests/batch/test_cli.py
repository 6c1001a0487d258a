"""`python -m octue_beam batch` end to end: 1,000 questions, a handful of them invalid or crashing the app, answered
on the DirectRunner with the command's defaults (worker processes: two here, whatever the machine's CPUs), and its
argument errors."""

import json
import logging
import subprocess
import sys
import uuid

import pyarrow as pa
import pyarrow.parquet as pq

from octue_beam.batch.files import read_answer_rows
from octue_beam.batch.rows import ANSWER_COLUMNS
from octue_beam.cli import main
from octue_beam.cli.batch import QUIET_LOGGERS, WORKER_PROCESSES_FROM, local_running_mode
from octue_beam.cli.quiet_logs import quietened
from tests.batch.services import write_doubler
from tests.support.paths import REPOSITORY

QUESTIONS = 1000
DUPLICATED = str(uuid.uuid4())

#: Row -> (its line, the exception type of its answer row, words its message must hold). A blank line follows row 499,
#: so row i is on line i + 1 before it and on line i + 2 after it.
INVALID = {
    17: ('{"input_values": {"n": "seventeen"}}', "InvalidValuesContents", ["$.n", "'seventeen'"]),
    101: ("{not json", "InvalidQuestionRow", ["line 102 of", "not valid JSON"]),
    202: ('{"input_value": {"n": 202}}', "InvalidQuestionRow", ["line 203 of", "'input_value'"]),
    303: ('{"input_values": {"n": -1}}', "RuntimeError", ["crashed on purpose"]),
    404: ('{"input_values": {"n": -2}}', "SystemExit", ["3"]),
    505: ('{"question_uuid": "q-505", "input_values": {"n": 505}}', "InvalidQuestionRow", ["line 507 of", "'q-505'"]),
    606: ('{"input_values": {"n": 606}, "input_manifest": {"id": "m"}}', "InvalidEvent", ["$.input_manifest",
                                                                                         "datasets"]),
    701: (json.dumps({"question_uuid": DUPLICATED, "input_values": {"n": 701}}), "DuplicateQuestionUUID",
          ["line 703 of", "line 702 of", DUPLICATED]),
}


def batch(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "octue_beam", "--log-level", "WARNING", "batch", *map(str, arguments)],
        cwd=REPOSITORY, capture_output=True, text=True, timeout=300,
    )


def test_a_thousand_questions_get_a_thousand_rows_with_the_right_answers_and_one_failure_per_invalid_one(tmp_path):
    service = write_doubler(tmp_path / "service")
    lines = [json.dumps({"input_values": {"n": n}}) for n in range(QUESTIONS)]
    lines[700] = json.dumps({"question_uuid": DUPLICATED, "input_values": {"n": 700}})
    for index, (line, _, _) in INVALID.items():
        lines[index] = line
    questions = tmp_path / "questions.jsonl"
    questions.write_text("\n".join(lines[:500]) + "\n\n" + "\n".join(lines[500:]) + "\n")  # a blank line is no row
    answers = tmp_path / "answers.jsonl"

    completed = batch(service, "--questions", questions, "--answers", answers, "--direct_num_workers", "2")

    assert completed.returncode == 0, completed.stderr[-3000:]
    assert f"{QUESTIONS} questions: {QUESTIONS - len(INVALID)} answered, {len(INVALID)} failed" in completed.stdout
    rows = read_answer_rows(str(answers))
    assert len(rows) == QUESTIONS
    assert sorted(row["row"] for row in rows) == list(range(QUESTIONS))
    assert all(list(row) == list(ANSWER_COLUMNS) for row in rows)
    assert len({row["question_uuid"] for row in rows}) == QUESTIONS - 1  # the duplicate keeps its (given) UUID
    for row in rows:
        index = row["row"]
        if index in INVALID:
            _, kind, words = INVALID[index]
            assert row["status"] == "failed"
            assert row["exception"]["type"] == kind, row["exception"]
            assert all(word in row["exception"]["message"] for word in words), (words, row["exception"]["message"])
            assert row["output_values"] is None
        else:
            assert row["status"] == "answered", row["exception"]
            assert row["input_values"] == {"n": index}
            assert row["output_values"] == {"double": 2 * index}
            assert row["exception"] is None
            assert isinstance(row["duration"], float) and row["duration"] >= 0
            uuid.UUID(row["question_uuid"])  # generated, or the one given
    by_row = {row["row"]: row for row in rows}
    assert by_row[700]["question_uuid"] == by_row[701]["question_uuid"] == DUPLICATED
    assert by_row[505]["question_uuid"] == "q-505"  # kept, so the failure can be matched with its question


def test_the_command_refuses_bad_arguments_before_anything_runs(tmp_path, capsys):
    service = write_doubler(tmp_path / "service")
    questions = tmp_path / "questions.jsonl"
    questions.write_text('{"input_values": {"n": 1}}\n')
    answers = tmp_path / "a.jsonl"

    cases = [
        ((service, "--questions", questions), "give --questions FILE and --answers OUT"),
        ((service, "--questions", questions, "--answers", tmp_path / "a.csv"), "neither a JSON lines file"),
        ((service, "--questions", tmp_path / "none.jsonl", "--answers", answers),
         "--questions: There is no questions file"),
        ((service, "--questions", questions, "--answers", tmp_path / "no" / "a.jsonl"), "there is no folder"),
        ((service, "--questions", questions, "--answers", answers, "--diff", "r.md"),
         "--diff only go(es) with --questions-from-store"),
        ((service, "--questions-from-store"), "--questions-from-store needs --diff"),
        ((service, "--questions-from-store", "--diff", tmp_path / "r.txt"), "HTML (.html) or Markdown (.md)"),
        ((service, "--questions", questions, "--answers", answers, "--max_concurent_questions", "2"),
         "unknown option --max_concurent_questions; did you mean --max_concurrent_questions?"),
        ((tmp_path / "nowhere", "--questions", questions, "--answers", answers), "is not a folder"),
    ]
    for arguments, message in cases:
        assert main(["batch", *map(str, arguments)]) == 1, arguments
        assert message in capsys.readouterr().err, arguments
    assert not answers.exists()


def test_the_command_gives_the_loggers_it_quietens_their_levels_back():
    """`batch` quietens the answering core's per-question warnings while it runs, not for the rest of the process (a
    test session or a notebook calling `main`)."""
    before = [logging.getLogger(name).level for name in QUIET_LOGGERS]
    with quietened(QUIET_LOGGERS):
        assert all(logging.getLogger(name).getEffectiveLevel() >= logging.ERROR for name in QUIET_LOGGERS)
    assert [logging.getLogger(name).level for name in QUIET_LOGGERS] == before


def test_a_local_batch_uses_worker_processes_only_where_they_pay_for_their_start_up():
    """Worker processes take seconds to start and gain little on two CPUs: a small file, or any file on a machine
    with fewer than three CPUs, is answered in the command's process; a big one elsewhere on a worker process per
    CPU; --direct_num_workers alone asks for them whatever the file."""
    in_process = ["--direct_running_mode", "in_memory"]
    assert local_running_mode(WORKER_PROCESSES_FROM - 1, 8) == in_process
    assert local_running_mode(WORKER_PROCESSES_FROM, 8) == [
        "--direct_running_mode", "multi_processing", "--direct_num_workers", "8",
    ]
    assert local_running_mode(None, 4) == ["--direct_running_mode", "multi_processing", "--direct_num_workers", "4"]
    assert local_running_mode(100_000, 2) == in_process
    assert local_running_mode(100_000, 1) == in_process
    assert local_running_mode(10, 2, workers_given=True) == ["--direct_running_mode", "multi_processing"]


def test_the_command_reads_and_writes_parquet(tmp_path):
    """The command imports Beam without the integrations a batch never uses (pandas, pymongo): Parquet, which needs
    pyarrow, still works both ways."""
    service = write_doubler(tmp_path / "service")
    questions = tmp_path / "questions.parquet"
    pq.write_table(pa.table({"input_values": [json.dumps({"n": n}) for n in range(20)]}), questions)
    answers = tmp_path / "answers.parquet"

    completed = batch(service, "--questions", questions, "--answers", answers)

    assert completed.returncode == 0, completed.stderr[-3000:]
    rows = sorted(read_answer_rows(str(answers)), key=lambda row: row["row"])
    assert [row["output_values"] for row in rows] == [{"double": 2 * n} for n in range(20)]


def test_a_local_batch_imports_neither_dataflows_client_nor_bigquery(tmp_path):
    """On the local runner the command imports Beam without Dataflow's API client and BigQuery (a third of Beam's
    import): the modules the command's process holds once it has answered."""
    service = write_doubler(tmp_path / "service")
    questions = tmp_path / "questions.jsonl"
    questions.write_text(json.dumps({"input_values": {"n": 1}}) + "\n")
    arguments = ["batch", str(service), "--questions", str(questions), "--answers", str(tmp_path / "answers.jsonl")]
    code = (
        "import json, sys\n"
        "from octue_beam.cli import main\n"
        f"assert main({arguments!r}) == 0\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=REPOSITORY, capture_output=True, text=True, timeout=300
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    imported = set(json.loads(completed.stdout.splitlines()[-1]))
    assert "apache_beam.runners.portability.fn_api_runner" in imported  # the batch ran on the local runner
    left_out = {"google.cloud.dataflow_v1beta3", "google.cloud.bigquery", "apache_beam.io.gcp.bigquery"}
    assert not imported & left_out, sorted(imported & left_out)
    assert [row["output_values"] for row in read_answer_rows(str(tmp_path / "answers.jsonl"))] == [{"double": 2}]


def test_what_a_local_batch_leaves_out_of_beam_can_still_be_imported_after_it():
    """The refusal is lifted once Beam is imported: reading recorded questions from BigQuery (the client) and Beam's
    BigQuery IO still import."""
    code = (
        "import sys\n"
        "from octue_beam.cli.beam_imports import UNUSED_BY_LOCAL_BATCH, import_beam\n"
        "import_beam(UNUSED_BY_LOCAL_BATCH)\n"
        "assert 'apache_beam' in sys.modules and 'google.cloud.bigquery' not in sys.modules\n"
        "from google.cloud import bigquery\n"
        "from apache_beam.io.gcp.bigquery import WriteToBigQuery\n"
        "print(bigquery.Client.__name__, WriteToBigQuery.__name__)\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stdout.split() == ["Client", "WriteToBigQuery"]


def test_a_dataflow_dry_run_builds_the_job_without_reading_its_files(tmp_path):
    """`--runner DataflowRunner --dry_run True` only builds the job's graph: its gs:// files are never read here
    (this machine has no Cloud Storage), so the command neither counts the questions nor waits for them."""
    service = write_doubler(tmp_path / "service")
    completed = batch(
        service, "--questions", "gs://valid-bucket-name/questions.jsonl", "--answers",
        "gs://valid-bucket-name/answers.parquet", "--runner", "DataflowRunner", "--dry_run", "True", "--no_auth",
        "--project", "my-project", "--region", "europe-west1", "--temp_location", "gs://valid-bucket-name/tmp",
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "The batch pipeline was built (dry run): no question was answered." in completed.stdout
