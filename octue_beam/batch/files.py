"""Question and answer files: JSON lines (`.jsonl`, `.ndjson`, `.json`, optionally `.gz`) or Parquet (`.parquet`).

Files are opened with Beam's `FileSystems`, so a path may be local or in Cloud Storage (`gs://...`). Reading a
questions file never fails on a bad row: a line that is not JSON, or a row that is not a question, becomes a failed
`QuestionRow` saying what is wrong and where (`rows.question_row`). Only a file that cannot be read at all (missing,
not Parquet, an unknown column) is an error, raised before anything is answered (`check_questions_file`).

In a Parquet questions file, the columns `input_values`, `input_manifest` and `children` may be of any type; a
string column holds JSON text (as batch writes its answers files, so an answers file can be asked again).
"""

import json
import os
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from octue_beam.batch.rows import (
    QUESTION_FIELDS,
    InvalidQuestionRow,
    QuestionRow,
    failed_row,
    from_parquet_record,
    question_row,
)

JSON_LINES = "jsonl"
PARQUET = "parquet"
_SUFFIXES = {".jsonl": JSON_LINES, ".ndjson": JSON_LINES, ".json": JSON_LINES, ".parquet": PARQUET, ".pq": PARQUET}
_BATCH_ROWS = 1024


class QuestionsFileError(ValueError):
    """A questions file that cannot be read as one (missing, not Parquet, an unknown column, an unknown type)."""


def file_format(path: str) -> str:
    """`jsonl` or `parquet`, from the file name (a `.gz` ending is looked through for JSON lines)."""
    name = path[:-3] if path.endswith(".gz") else path
    kind = _SUFFIXES.get(os.path.splitext(name)[1].lower())
    if kind is None or (kind == PARQUET and name != path):
        raise ValueError(
            f"{path!r} is neither a JSON lines file (.jsonl, .ndjson or .json, optionally .gz) nor a Parquet file "
            "(.parquet)."
        )
    return kind


def read_question_rows(path: str) -> Iterator[QuestionRow]:
    """Every question row of a questions file, in order."""
    if file_format(path) == PARQUET:
        yield from _parquet_question_rows(path)
    else:
        yield from _json_lines_question_rows(path)


def check_questions_file(path: str) -> int:
    """The number of questions in a questions file; QuestionsFileError if it cannot be read as one."""
    try:
        kind = file_format(path)
    except ValueError as error:
        raise QuestionsFileError(str(error)) from None
    if not FileSystems.exists(path):
        raise QuestionsFileError(f"There is no questions file {path!r}.")
    if kind == PARQUET:
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as stream:
            try:
                metadata = pq.ParquetFile(stream)
            except pa.ArrowException as error:
                raise QuestionsFileError(f"{path!r} is not a Parquet file: {error}") from None
            unknown = [name for name in metadata.schema_arrow.names if name not in QUESTION_FIELDS]
            if unknown:
                raise QuestionsFileError(
                    f"The Parquet file {path!r} has the unknown column(s) {', '.join(map(repr, unknown))}: a questions "
                    f"file has only the columns {', '.join(QUESTION_FIELDS)}."
                )
            return metadata.metadata.num_rows
    with FileSystems.open(path) as stream:
        return sum(1 for line in stream if line.strip())


def read_answer_rows(path: str) -> list[dict[str, Any]]:
    """The answer rows of an answers file (JSON columns parsed), in the file's order."""
    if file_format(path) == PARQUET:
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as stream:
            return [from_parquet_record(record) for record in pq.read_table(stream).to_pylist()]
    with FileSystems.open(path) as stream:
        return [json.loads(line) for line in stream if line.strip()]


def _json_lines_question_rows(path: str) -> Iterator[QuestionRow]:
    index = 0
    with FileSystems.open(path) as stream:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            where = f"line {number} of {path}"
            try:
                record = json.loads(line)
            except (UnicodeDecodeError, ValueError, RecursionError) as error:
                reason = "it is nested too deeply" if isinstance(error, RecursionError) else str(error)
                yield failed_row(index, where, InvalidQuestionRow(f"{where} is not valid JSON: {reason}."))
            else:
                yield question_row(index, record, where)
            index += 1


def _parquet_question_rows(path: str) -> Iterator[QuestionRow]:
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as stream:
        parquet = pq.ParquetFile(stream)
        text_columns = {
            field.name for field in parquet.schema_arrow if field.name != "question_uuid" and _is_text(field.type)
        }
        index = 0
        for batch in parquet.iter_batches(batch_size=_BATCH_ROWS):
            for record in batch.to_pylist():
                where = f"row {index} of {path}"
                try:
                    for name in text_columns & record.keys():
                        if record[name] is not None:
                            record[name] = _json_text(record[name], name)
                except InvalidQuestionRow as error:
                    given = record.get("question_uuid")
                    yield failed_row(
                        index, where, InvalidQuestionRow(f"{where}: {error}"), given if isinstance(given, str) else None
                    )
                else:
                    yield question_row(index, record, where)
                index += 1


def _is_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def _json_text(text: str, column: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as error:
        raise InvalidQuestionRow(f"its {column} is a string column, read as JSON text, and this value is not JSON "
                                 f"({error}).") from None
