"""Regression re-runs: new answers compared with recorded ones (equal, numbers within the tolerance, different, not
recorded), the report, and recorded questions asked again of the service through a real batch.

Event-store rows are built here with the columns of docs/protocol.md "Event store row", as
`octue_beam.events.store.read_events` returns them (`event` parsed back, with its `kind`); the command's test writes
them into a local store with the recorder's own writer."""

import datetime
import html.parser
import uuid

from apache_beam.options.pipeline_options import PipelineOptions

from octue_beam.batch.regression import (
    DIFFERENT,
    NOT_RECORDED,
    SAME,
    compare_answer,
    differences,
    recorded_answers,
    recorded_questions,
)
from octue_beam.batch.reports import summary_line, write_report
from octue_beam.batch.rerunning import rerun_recorded
from octue_beam.cli import main
from octue_beam.events.files import WindowFiles
from octue_beam.events.rows import event_row
from octue_beam.messaging import events
from octue_beam.messaging.attributes import question_attributes, response_attributes
from octue_beam.messaging.publishing import wire_message
from octue_beam.service.loading import load_service
from tests.batch.services import SRUID, write_doubler

OLD_REVISION = "batch-tests/doubler:1.0.0"
PARENT = "some-org/parent:2.0.0"
START = datetime.datetime(2026, 1, 5, 12, tzinfo=datetime.timezone.utc)


def store_row(kind: str, body: dict, question_uuid: str, sender: str, recipient: str, second: int) -> dict:
    """An event-store row as `read_events` returns it."""
    return {
        "datetime": START + datetime.timedelta(seconds=second),
        "uuid": str(uuid.uuid4()),
        "kind": kind,
        "event": {"kind": kind, **body},
        "other_attributes": {"retry_count": "0"},
        "parent": PARENT,
        "originator": PARENT,
        "sender": sender,
        "sender_type": "PARENT" if kind == "question" else "CHILD",
        "sender_sdk_version": "0.69.1",
        "recipient": recipient,
        "question_uuid": question_uuid,
        "parent_question_uuid": None,
        "originator_question_uuid": question_uuid,
        "backend": "GoogleCloudPubSub",
        "backend_metadata": {"message_id": "1", "ordering_key": None},
    }


def asked(question_uuid: str, n: int, second: int, recipient: str = OLD_REVISION) -> dict:
    return store_row("question", {"input_values": {"n": n}}, question_uuid, PARENT, recipient, second)


def answered(question_uuid: str, output_values: dict, second: int, sender: str = OLD_REVISION) -> dict:
    return store_row("result", {"output_values": output_values}, question_uuid, sender, PARENT, second)


def failed(question_uuid: str, kind: str, message: str, second: int) -> dict:
    body = {"exception_type": kind, "exception_message": message, "exception_traceback": []}
    return store_row("exception", body, question_uuid, OLD_REVISION, PARENT, second)


def new_row(question_uuid: str, output_values=None, exception=None, manifest=None) -> dict:
    return {
        "question_uuid": question_uuid, "row": 0, "status": "failed" if exception else "answered",
        "input_values": {}, "input_manifest": None, "output_values": output_values, "output_manifest": manifest,
        "exception": exception, "duration": 0.1,
    }


def recorded_result(output_values, manifest=None) -> dict:
    return {"kind": "result", "output_values": output_values, "output_manifest": manifest}


def test_values_are_compared_structurally_and_numbers_within_the_tolerance():
    recorded = {"x": 1.0, "items": [1, 2.5, {"name": "a"}], "flag": True, "text": "t", "none": None}
    assert differences(recorded, {"x": 1.0 + 1e-12, "items": [1, 2.5, {"name": "a"}], "flag": True, "text": "t",
                                  "none": None}) == []
    assert differences({"x": 1.0}, {"x": 1.0001}) == ["$.x: recorded 1.0, now 1.0001"]
    assert differences({"x": 1.0}, {"x": 1.0001}, float_tolerance=1e-3) == []
    assert differences({"x": 100.0}, {"x": 100.05}, float_tolerance=1e-3) == []  # relative
    assert differences({"n": 1}, {"n": 2}, float_tolerance=10) == ["$.n: recorded 1, now 2"]  # integers exactly
    assert differences(float("nan"), float("nan")) == []
    assert differences(recorded, {"x": 1.0, "items": [1, 2.5], "flag": 1, "text": "u", "extra": 0}) == [
        "$.extra: not recorded, now 0",
        "$.flag: recorded True, now 1",
        "$.items: recorded 3 items, now 2",
        "$.none: recorded None, now missing",
        "$.text: recorded 't', now 'u'",
    ]


def test_each_new_answer_is_same_different_or_not_recorded():
    manifest = {"id": "1", "datasets": {"out": "gs://b/1/out"}}
    cases = [
        (new_row("a", {"v": 0.30000000000000004}), recorded_result({"v": 0.3}), SAME, []),
        (new_row("b", {"v": 0.31}), recorded_result({"v": 0.3}), DIFFERENT,
         ["$.output_values.v: recorded 0.3, now 0.31"]),
        (new_row("c", {"v": 1}, manifest={"id": "2", "datasets": {"out": "gs://b/2/out"}}),
         recorded_result({"v": 1}, manifest), SAME, []),
        (new_row("d", {"v": 1}, manifest={"id": "2", "datasets": {"other": "gs://b/2/other"}}),
         recorded_result({"v": 1}, manifest), DIFFERENT,
         ["$.output_manifest: recorded datasets out, now datasets other"]),
        (new_row("e", exception={"type": "ValueError", "message": "bad"}),
         {"kind": "exception", "exception_type": "ValueError", "exception_message": "bad"}, SAME, []),
        (new_row("f", exception={"type": "KeyError", "message": "'n'"}),
         {"kind": "exception", "exception_type": "ValueError", "exception_message": "bad"}, DIFFERENT,
         ["$.exception: recorded ValueError: 'bad', now KeyError: \"'n'\""]),
        (new_row("g", {"v": 1}), {"kind": "exception", "exception_type": "ValueError", "exception_message": "bad"},
         DIFFERENT, ["recorded an exception (ValueError: 'bad'), now a result"]),
        (new_row("h", exception={"type": "KeyError", "message": "'n'"}), recorded_result({"v": 1}), DIFFERENT,
         ["recorded a result, now an exception (KeyError: \"'n'\")"]),
        (new_row("i", {"v": 1}), None, NOT_RECORDED, []),
    ]
    for new, recorded, status, found in cases:
        comparison = compare_answer(new, recorded)
        assert (comparison.status, list(comparison.differences)) == (status, found), new["question_uuid"]


def test_recorded_questions_and_answers_are_those_of_any_revision_of_the_service():
    q1, q2, q3, q4 = (str(uuid.uuid4()) for _ in range(4))
    rows = [
        asked(q1, 1, 0), asked(q2, 2, 1, recipient="batch-tests/doubler:0.9.0"), asked(q3, 3, 2, recipient=PARENT),
        asked(q1, 1, 3),  # asked again (a retry): one question
        answered(q1, {"double": 1}, 4), answered(q1, {"double": 2}, 5), answered(q3, {"double": 6}, 6, sender=PARENT),
        failed(q4, "ValueError", "x", 7),
    ]
    assert recorded_questions(rows, SRUID) == [
        {"question_uuid": q1, "input_values": {"n": 1}}, {"question_uuid": q2, "input_values": {"n": 2}},
    ]
    answers = recorded_answers(rows, SRUID)
    assert answers[q1] == {"kind": "result", "output_values": {"double": 2}}  # the last one recorded
    assert set(answers) == {q1, q4}


def test_recorded_questions_asked_again_of_the_service(tmp_path):
    same, close, changed, crashed, unrecorded = (str(uuid.uuid4()) for _ in range(5))
    rows = [
        asked(same, 2, 0), answered(same, {"double": 4}, 1),
        store_row("question", {"input_values": {"n": -3}}, close, PARENT, OLD_REVISION, 2),
        answered(close, {"double": 0.3}, 3),
        asked(changed, 5, 4), answered(changed, {"double": 11}, 5),
        asked(crashed, -1, 6), failed(crashed, "RuntimeError", "the app crashed on purpose", 7),
        asked(unrecorded, 7, 8),
    ]
    service_dir = write_doubler(tmp_path / "service")
    options = PipelineOptions(["--service_dir", str(service_dir), "--direct_running_mode", "in_memory"])

    summary, comparisons = rerun_recorded(rows, options, load_service(str(service_dir)), float_tolerance=1e-9)

    statuses = {each.question_uuid: each.status for each in comparisons}
    assert statuses == {same: SAME, close: SAME, changed: DIFFERENT, crashed: SAME, unrecorded: NOT_RECORDED}
    assert (summary.questions, summary.answers) == (5, None)
    assert [each.differences for each in comparisons if each.status == DIFFERENT] == [
        ("$.output_values.double: recorded 11, now 10",)
    ]

    line = summary_line(comparisons, SRUID, 1e-9)
    assert line == (f"5 recorded questions asked again of {SRUID}: 3 same, 1 different, 1 with no recorded answer "
                    "(numbers compared within 1e-09).")
    write_report(str(tmp_path / "report.md"), comparisons, line)
    markdown = (tmp_path / "report.md").read_text().splitlines()
    assert markdown[2] == line
    assert markdown[6].startswith(f"| `{changed}` | **different** |")  # differences first
    assert "recorded 11, now 10" in markdown[6]
    write_report(str(tmp_path / "report.html"), comparisons, line)
    cells = _table_cells((tmp_path / "report.html").read_text())
    assert cells[0][:2] == [changed, DIFFERENT] and len(cells) == 5
    assert {row[1] for row in cells} == {SAME, DIFFERENT, NOT_RECORDED}


def _table_cells(text: str) -> list[list[str]]:
    """The body rows of an HTML report's table, as the text of each cell (the page must parse)."""

    class Cells(html.parser.HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.rows: list[list[str]] = []
            self.in_body = self.in_cell = False

        def handle_starttag(self, tag, attrs):
            if tag == "tbody":
                self.in_body = True
            elif tag == "tr" and self.in_body:
                self.rows.append([])
            elif tag == "td" and self.in_body:
                self.in_cell = True
                self.rows[-1].append("")

        def handle_endtag(self, tag):
            if tag == "td":
                self.in_cell = False

        def handle_data(self, data):
            if self.in_cell:
                self.rows[-1][-1] += data

    parser = Cells()
    parser.feed(text)
    parser.close()
    return parser.rows


def test_the_command_asks_a_local_stores_questions_again_and_exits_1_when_an_answer_differs(tmp_path, capsys):
    """`batch --questions-from-store` end to end: questions and answers recorded in a local store (written by the
    recorder's writer), asked again of the service; the report, the summary and the exit code."""
    store = str(tmp_path / "events")
    files = WindowFiles(store)
    same, changed, other = (str(uuid.uuid4()) for _ in range(3))
    for question_uuid, n, recorded, recipient in (
        (same, 3, {"double": 6}, OLD_REVISION), (changed, 4, {"double": 9}, OLD_REVISION),
        (other, 5, {"double": 10}, "batch-tests/another:1.0.0"),
    ):
        asking = question_attributes(sender=PARENT, recipient=recipient, sender_sdk_version="0.69.1",
                                     question_uuid=question_uuid)
        for event, attributes in ((events.question({"n": n}), asking),
                                  (events.result(recorded), response_attributes(asking, "0.69.1"))):
            data, wire = wire_message(event, attributes)
            row = event_row(data, wire, "1", None)
            start = row["datetime"].timestamp() // 10 * 10
            files.add((start, start + 10), row)
    files.close()
    service = write_doubler(tmp_path / "service")
    report = tmp_path / "report.md"

    code = main(["batch", str(service), "--questions-from-store", "--store", store, "--diff", str(report),
                 "--direct_running_mode", "in_memory"])

    assert code == 1
    out = capsys.readouterr().out
    line = (f"2 recorded questions asked again of {SRUID}: 1 same, 1 different, 0 with no recorded answer (numbers "
            "compared within 1e-09).")
    assert f"{line} Report: {report}" in out
    text = report.read_text()
    assert line in text and f"`{changed}` | **different**" in text and "recorded 9, now 8" in text
    assert other not in text  # asked of another service

    assert main(["batch", str(service), "--questions-from-store", "--store", str(tmp_path / "none"),
                 "--diff", str(report)]) == 1
    assert "none" in capsys.readouterr().err
