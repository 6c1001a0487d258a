"""`run_batch` on Beam's local runner in this process (`--direct_running_mode in_memory`): Parquet and JSON lines in and
out, given, generated and duplicated question UUIDs, and the rows of questions the streaming service would reject."""

import json
import uuid

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from octue_beam.batch.building import build_batch_pipeline
from octue_beam.batch.files import QuestionsFileError, read_answer_rows
from octue_beam.batch.running import run_batch
from tests.batch.services import write_doubler


def answer(tmp_path, questions, answers, *options):
    service = write_doubler(tmp_path / "service")
    return run_batch(PipelineOptions([
        "--service_dir", str(service), "--questions", str(questions), "--answers", str(answers),
        "--direct_running_mode", "in_memory", *options,
    ]), show_progress=False)


def by_row(path) -> dict[int, dict]:
    return {row["row"]: row for row in read_answer_rows(str(path))}


def test_parquet_questions_with_json_text_columns_and_parquet_answers(tmp_path):
    given = str(uuid.uuid4())
    questions = tmp_path / "questions.parquet"
    pq.write_table(pa.table({
        "question_uuid": [given, None, None],
        "input_values": [json.dumps({"n": 4}), json.dumps({"n": 5}), "{broken"],
    }), questions)
    answers = tmp_path / "answers.parquet"

    summary = answer(tmp_path, questions, answers)

    assert (summary.answered, summary.failed) == (2, 1)
    table = pq.read_table(answers)
    assert table.schema.field("output_values").type == pa.string()  # JSON text: values change type row to row
    assert table.schema.field("output_values").metadata == {b"type": b"JSON"}
    rows = by_row(answers)
    assert rows[0]["question_uuid"] == given
    assert rows[0]["output_values"] == {"double": 8} and rows[1]["output_values"] == {"double": 10}
    uuid.UUID(rows[1]["question_uuid"])
    assert rows[2]["exception"]["type"] == "InvalidQuestionRow"
    assert "row 2 of" in rows[2]["exception"]["message"] and "input_values" in rows[2]["exception"]["message"]


def test_parquet_questions_with_native_columns_and_json_lines_answers(tmp_path):
    questions = tmp_path / "questions.parquet"
    pq.write_table(pa.table({"input_values": pa.array([{"n": 1}, {"n": 2}], pa.struct([("n", pa.int64())]))}),
                   questions)
    answers = tmp_path / "answers.jsonl"

    answer(tmp_path, questions, answers)

    rows = by_row(answers)
    assert [rows[index]["output_values"] for index in (0, 1)] == [{"double": 2}, {"double": 4}]
    assert [rows[index]["input_values"] for index in (0, 1)] == [{"n": 1}, {"n": 2}]


def test_given_uuids_are_kept_missing_ones_generated_and_repeated_ones_fail_all_but_the_first(tmp_path):
    first, other = str(uuid.uuid4()), str(uuid.uuid4())
    questions = tmp_path / "questions.jsonl"
    questions.write_text("\n".join(json.dumps(row) for row in [
        {"question_uuid": first, "input_values": {"n": 0}},
        {"input_values": {"n": 1}},
        {"question_uuid": other, "input_values": {"n": 2}},
        {"question_uuid": first, "input_values": {"n": 3}},
        {"input_values": {"n": 4}},
        {"question_uuid": first, "input_values": {"n": 5}},
    ]) + "\n")
    answers = tmp_path / "answers.jsonl"

    summary = answer(tmp_path, questions, answers)

    rows = by_row(answers)
    assert (summary.answered, summary.failed) == (4, 2)
    assert [rows[index]["question_uuid"] for index in (0, 2, 3, 5)] == [first, other, first, first]
    generated = [rows[1]["question_uuid"], rows[4]["question_uuid"]]
    assert len({*generated, first, other}) == 4 and all(uuid.UUID(each) for each in generated)
    assert rows[0]["output_values"] == {"double": 0}
    for index in (3, 5):
        assert rows[index]["exception"]["type"] == "DuplicateQuestionUUID"
        assert f"line {index + 1} of" in rows[index]["exception"]["message"]
        assert "line 1 of" in rows[index]["exception"]["message"]


def test_questions_the_wire_protocol_refuses_fail_with_its_reason(tmp_path):
    questions = tmp_path / "questions.jsonl"
    questions.write_text("\n".join(json.dumps(row) for row in [
        {"input_values": {"n": 1}, "children": [{"key": "x", "id": "not an id", "backend": {"name": "GCPPubSub"}}]},
        {"input_values": {"n": 2, "deep": json.loads("[" * 120 + "]" * 120)}},
        {"input_values": {"n": 3, "padding": "x" * 2000}},
        ["not", "an", "object"],
    ]) + "\n")
    answers = tmp_path / "answers.jsonl"

    answer(tmp_path, questions, answers, "--max_message_bytes", "1000")

    rows = by_row(answers)
    messages = [rows[index]["exception"]["message"] for index in range(4)]
    assert "$.event.children[0].id" in messages[0]
    assert "nested too deeply" in messages[1]
    assert "more than the limit of 1000 bytes" in messages[2]
    assert "line 4 of" in messages[3] and "got an array" in messages[3]


def test_a_file_that_cannot_be_read_as_questions_is_an_error_before_anything_runs(tmp_path):
    questions = tmp_path / "questions.parquet"
    pq.write_table(pa.table({"input_values": ["{}"], "inputs": ["{}"]}), questions)
    with pytest.raises(QuestionsFileError, match="unknown column.*'inputs'"):
        answer(tmp_path, questions, tmp_path / "answers.jsonl")
    (tmp_path / "text.parquet").write_text("not parquet")
    with pytest.raises(QuestionsFileError, match="is not a Parquet file"):
        answer(tmp_path, tmp_path / "text.parquet", tmp_path / "answers.jsonl")
    assert not (tmp_path / "answers.jsonl").exists()


def test_the_batch_graph_builds_for_dataflow_offline(tmp_path):
    """A dry run: the graph is built and translated for Dataflow (DoFns pickled), nothing is submitted or answered."""
    service = write_doubler(tmp_path / "service")
    options = PipelineOptions([
        "--runner", "DataflowRunner", "--dry_run", "True", "--no_auth", "--project", "my-project",
        "--region", "europe-west1", "--temp_location", "gs://valid-bucket-name/tmp", "--service_dir", str(service),
        "--questions", "gs://valid-bucket-name/questions.jsonl", "--answers", "gs://valid-bucket-name/answers.parquet",
    ])
    pipeline, plan = build_batch_pipeline(options)
    result = pipeline.run()

    assert (plan.sruid, plan.runner, plan.local) == ("batch-tests/doubler:local", "DataflowRunner", False)
    assert not options.view_as(StandardOptions).streaming
    names = {t.unique_name for t in result.job.proto_pipeline.components.transforms.values()}
    for stage in ("ReadQuestionRows", "SpreadQuestionRows", "AnswerQuestionRows", "WriteAnswerRows"):
        assert stage in names, sorted(names)
    assert str(run_batch(options, show_progress=False)) == (
        "The batch pipeline was built (dry run): no question was answered."
    )


def test_a_question_that_outruns_the_time_limit_is_a_failed_row_and_the_others_are_answered(tmp_path):
    questions = tmp_path / "questions.jsonl"
    questions.write_text("\n".join(json.dumps({"input_values": {"n": n}}) for n in (1, -4, 2)) + "\n")
    answers = tmp_path / "answers.jsonl"

    summary = answer(tmp_path, questions, answers, "--question_timeout", "1")

    rows = by_row(answers)
    assert (summary.answered, summary.failed) == (2, 1)
    assert rows[1]["exception"]["type"] == "QuestionTimeLimitExceeded"
    assert "after running for 1 s" in rows[1]["exception"]["message"]
    assert [rows[0]["output_values"], rows[2]["output_values"]] == [{"double": 2}, {"double": 4}]
