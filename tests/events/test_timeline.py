"""The timeline of a question tree: the model built from event-store rows, the PNG picture and the HTML page.

The rows are those of docs/protocol.md's event-store row, made from the wire messages the protocol code publishes
(tests/events/recorded_trees.py): a parent asking two children, one of which asks a grandchild that fails.
"""

import html.parser
import importlib.util
import json
import logging
import struct
import subprocess
import sys
import threading
import time
import uuid
import xml.etree.ElementTree as ET

import pytest

from octue_beam.events.timeline import (
    EXCEPTION,
    MARKER_KINDS,
    MARKER_STYLES,
    NO_ANSWER,
    OUTCOME_STYLES,
    RESULT,
    Timeline,
)
from octue_beam.events.timeline_html import draw_html
from octue_beam.events.timeline_png import DPI, FOOTER_PIXELS, HEADER_PIXELS, MAX_QUESTIONS, draw_png
from tests.events.recorded_trees import (
    ELEVATION,
    PARENT_SERVICE,
    START,
    TERRAIN,
    WIND,
    Recording,
    parent_with_children,
    wide_tree,
)
from tests.support.paths import REPOSITORY
from tests.test_cli_imports import imported_modules

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def recorded():
    return parent_with_children()


@pytest.fixture
def tree(recorded):
    rows, questions = recorded
    return Timeline.from_rows(rows), questions


def without(rows, question, *kinds):
    """The rows, less those of `question` of the given kinds."""
    return [row for row in rows if not (row["question_uuid"] == question["question_uuid"] and row["kind"] in kinds)]


# ----------------------------------------------------------------------------------------------------------- model


def test_a_row_per_question_in_tree_order_with_depths_and_parent_links(tree):
    timeline, asked = tree
    uuids = [question.question_uuid for question in timeline.questions]
    assert uuids == [asked[name]["question_uuid"] for name in ("root", "wind", "elevation", "terrain")]
    assert [question.depth for question in timeline.questions] == [0, 1, 1, 2]
    assert [question.service for question in timeline.questions] == [PARENT_SERVICE, WIND, ELEVATION, TERRAIN]
    root, wind, elevation, terrain = timeline.questions
    assert root.parent_question_uuid is None
    assert wind.parent_question_uuid == elevation.parent_question_uuid == root.question_uuid
    assert terrain.parent_question_uuid == elevation.question_uuid
    assert root.children == [wind.question_uuid, elevation.question_uuid]  # in the order they were asked
    assert elevation.children == [terrain.question_uuid] and wind.children == terrain.children == []
    assert terrain.asker == ELEVATION and root.asker == "octue-beam-tests/laptop:local"
    assert terrain.label == f"terrain-service ({terrain.question_uuid[:8]})"
    assert terrain.revision_tag == "2-1-0"
    assert timeline.originator is root


def test_times_are_seconds_since_the_originators_question(tree):
    timeline, _ = tree
    root, wind, elevation, terrain = timeline.questions
    assert timeline.start_time == START
    assert (root.start, root.end) == (0.0, 6.4)
    assert (wind.start, wind.end, elevation.start, elevation.end) == (0.6, 3.1, 0.62, 5.2)
    assert terrain.start == 1.6 and terrain.duration == pytest.approx(1.0)
    assert timeline.end == 6.4


def test_outcomes_and_their_colours(tree):
    timeline, _ = tree
    assert [question.outcome for question in timeline.questions] == [RESULT, RESULT, RESULT, EXCEPTION]
    terrain = timeline.questions[3]
    assert terrain.answer_text.startswith("FileNotFoundError: No tile N51W001 in gs://terrain/tiles.")
    assert timeline.questions[1].answer_text == 'output values: {"wind_speeds": [7.2]}'
    assert timeline.outcome_counts() == {RESULT: 3, EXCEPTION: 1, NO_ANSWER: 0}
    # Each outcome has its own colour and each marker kind its own shape (told apart without colour).
    assert len({style.edge for style in OUTCOME_STYLES.values()}) == 3
    assert len({style.symbol for style in MARKER_STYLES.values()}) == len(MARKER_STYLES) == len(MARKER_KINDS)


def test_markers_per_kind_with_their_times_and_texts(tree):
    timeline, _ = tree
    root, wind, elevation, terrain = timeline.questions
    counts = {kind: len(root.markers_of(kind)) for kind in MARKER_KINDS}
    assert counts == {"delivery_acknowledgement": 1, "heartbeat": 4, "log_record": 1, "monitor_message": 1,
                      "exception": 0}
    assert [marker.seconds for marker in root.markers_of("heartbeat")] == pytest.approx([0.351, 2.351, 4.351, 6.351])
    assert root.markers_of("log_record")[0].text == "INFO [app] Asking the children about 2 locations."
    assert [marker.text for marker in wind.markers_of("monitor_message")] == ['{"progress": 0.5}', '{"progress": 1.0}']
    assert [marker.kind for marker in terrain.markers] == [
        "delivery_acknowledgement", "heartbeat", "log_record", "exception"
    ]
    assert terrain.markers_of("log_record")[0].text == "WARNING [app] Tile N51W001 is missing."
    exception = terrain.markers_of("exception")[0]
    assert exception.seconds == 2.6
    assert exception.text.startswith("FileNotFoundError: No tile N51W001")
    assert not any(marker.kind == "result" for question in timeline.questions for marker in question.markers)


def test_a_question_with_no_answer_yet():
    rows, asked = parent_with_children()
    timeline = Timeline.from_rows(without(rows, asked["elevation"], "result"))
    elevation = timeline.question(asked["elevation"]["question_uuid"])
    assert elevation.outcome == NO_ANSWER
    assert elevation.end is None and elevation.duration is None and elevation.answer_text == ""
    assert len(elevation.markers_of("heartbeat")) == 3  # what it sent before the recording ends
    assert timeline.outcome_counts() == {RESULT: 2, EXCEPTION: 1, NO_ANSWER: 1}
    assert timeline.summary() == "4 questions: 2 answered, 1 failed, 1 without an answer yet, over 6.40 s"


def test_rows_as_the_store_keeps_them_give_the_same_timeline(recorded, tree):
    """The store's `event` column is the event's JSON without its kind (the kind is a column of its own); times may
    come back as ISO 8601 strings."""
    rows, _ = recorded
    stored = []
    for row in rows:
        event = {key: value for key, value in row["event"].items() if key != "kind"}
        stored.append({**row, "event": json.dumps(event), "datetime": row["datetime"].isoformat()})
    assert Timeline.from_rows(stored).to_dict() == tree[0].to_dict()


def test_a_question_whose_parent_was_not_recorded_hangs_under_a_placeholder_of_that_parent():
    rows, asked = parent_with_children()
    elevation_rows = [row for row in rows if row["question_uuid"] != asked["elevation"]["question_uuid"]]
    timeline = Timeline.from_rows(elevation_rows)
    placeholder = timeline.question(asked["elevation"]["question_uuid"])
    assert placeholder.service == ELEVATION  # what its child names as its parent
    assert not placeholder.asked_recorded and placeholder.outcome == NO_ANSWER
    assert placeholder.start == 1.6  # its child's question, the first thing known of it
    assert placeholder.children == [asked["terrain"]["question_uuid"]]
    assert timeline.question(asked["terrain"]["question_uuid"]).depth == placeholder.depth + 1


def test_other_trees_are_left_out_and_several_trees_need_a_choice():
    first, asked = parent_with_children()
    second = wide_tree(3)
    timeline = Timeline.from_rows(first + second, asked["root"]["question_uuid"])
    assert len(timeline.questions) == 4
    with pytest.raises(ValueError, match="hold 2 question trees") as error:
        Timeline.from_rows(first + second)
    assert asked["root"]["question_uuid"] in str(error.value)
    with pytest.raises(ValueError, match="There are no events of the question tree 0000"):
        Timeline.from_rows(first, "0000")
    with pytest.raises(ValueError, match="no events to draw"):
        Timeline.from_rows([])


def test_a_row_without_a_needed_column_is_named():
    rows, _ = parent_with_children()
    broken = dict(rows[3], question_uuid=None)
    with pytest.raises(ValueError, match=f"Event row {broken['uuid']} has no 'question_uuid'"):
        Timeline.from_rows([*rows, broken])
    with pytest.raises(ValueError, match="'datetime' 'yesterday' is not an ISO 8601 time"):
        Timeline.from_rows([dict(rows[0], datetime="yesterday")])


def test_a_retried_question_is_one_row_showing_its_retries():
    recording = Recording()
    first = recording.ask(0.0, WIND)
    recording.acknowledge(first, 0.2)
    recording.fail(first, 0.5, TimeoutError("no heartbeat"))
    retry = recording.ask(1.0, WIND, question_uuid=first["question_uuid"], retry_count=1)
    recording.acknowledge(retry, 1.1)
    recording.result(retry, 2.0, {"ok": True})
    timeline = Timeline.from_rows(recording.rows)
    (question,) = timeline.questions
    assert question.retries == 1 and question.outcome == RESULT and question.end == 2.0
    assert len(question.markers_of("exception")) == 1 and len(question.markers_of("delivery_acknowledgement")) == 2


# ------------------------------------------------------------------------------------------------------------- PNG


def png_size(path) -> tuple[int, int]:
    """(width, height) from the PNG's IHDR chunk, the first after the signature."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    length, chunk = struct.unpack(">I4s", data[8:16])
    assert chunk == b"IHDR" and length == 13
    return struct.unpack(">II", data[16:24])


def rows_area(path):
    """The pixels (RGB, 0-255) of the rows of a timeline PNG: below the title and legend, above the time axis."""
    from matplotlib.image import imread

    image = (imread(path)[:, :, :3] * 255).round().astype(int)
    return image[HEADER_PIXELS:-FOOTER_PIXELS]


def colour(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[index:index + 2], 16) for index in (1, 3, 5))


def has_colour(image, hex_colour: str) -> bool:
    return bool((image == colour(hex_colour)).all(axis=2).any())


def stripe_bands(image, x: int) -> int:
    """How many runs of the stripe colour a column of pixels crosses (a stripe on every other row)."""
    column = (image[:, x] == colour("#F3F4F6")).all(axis=1)
    return int(column[0]) + int((column[1:] & ~column[:-1]).sum())


def test_the_png_is_a_real_picture_of_the_tree(tree, tmp_path):
    pytest.importorskip("matplotlib")
    timeline, _ = tree
    path = tmp_path / "tree.png"
    draw_png(timeline, path)
    width, height = png_size(path)
    assert (width, height) == (1440, 138 + 4 * 42 + 72)
    assert path.stat().st_size > 20_000
    image = rows_area(path)
    assert image.shape[:2] == (4 * 42, width)
    # Bars of both outcomes, markers of every kind present, a stripe on every other row.
    for hex_colour in (OUTCOME_STYLES[RESULT].fill, OUTCOME_STYLES[EXCEPTION].fill, "#F3F4F6"):
        assert has_colour(image, hex_colour), hex_colour
    for kind in ("heartbeat", "monitor_message", "exception"):
        assert has_colour(image, MARKER_STYLES[kind].colour), kind
    assert stripe_bands(image, x=round(0.3 * DPI)) == 2


def test_the_png_grows_a_row_per_question_and_shows_unanswered_ones(tmp_path):
    pytest.importorskip("matplotlib")
    sizes = {}
    for count in (3, 10, 50):
        path = tmp_path / f"{count}.png"
        timeline = Timeline.from_rows(wide_tree(count, unanswered=1))
        assert len(timeline.questions) == count
        draw_png(timeline, path)
        sizes[count] = png_size(path)
        image = rows_area(path)
        assert stripe_bands(image, x=round(0.3 * DPI)) == (count + 1) // 2
        assert not has_colour(image, OUTCOME_STYLES[EXCEPTION].fill)
        assert has_colour(image, OUTCOME_STYLES[NO_ANSWER].fill)
    assert {width for width, _ in sizes.values()} == {1440}
    assert sizes[10][1] - sizes[3][1] == 7 * 42 and sizes[50][1] - sizes[10][1] == 40 * 42  # 42 pixels a question
    assert sizes[50] == (1440, 2310)  # 50 questions still fit a screen or two


def test_a_service_whose_clock_is_behind_is_drawn_before_zero(tmp_path):
    """Each event's time is its sender's clock: a child whose clock is behind the parent's answers "before" it was
    asked. The pictures widen their time axis to show it rather than cut it off."""
    recording = Recording()
    root = recording.ask(0.0, PARENT_SERVICE)
    child = recording.ask(0.5, WIND, root)
    recording.acknowledge(child, -0.4)  # the child's clock is 0.9 s behind
    recording.result(child, -0.2, {})
    recording.result(root, 1.0, {})
    timeline = Timeline.from_rows(recording.rows)
    assert timeline.earliest == -0.4
    late = timeline.question(child["question_uuid"])
    assert timeline.bar(late) == (-0.4, 0.5)  # from its first event to when it was asked
    assert late.outcome_text(timeline.end) == "answered 700 ms before it was asked (the services' clocks differ)"
    draw_html(timeline, tmp_path / "skew.html")
    svg = ET.fromstring((tmp_path / "skew.html").read_text(encoding="utf-8").split("\n", 1)[1]).find(f".//{SVG}svg")
    bars = {group.get("data-question-uuid"): group.find(f"{SVG}rect") for group in svg.iter(f"{SVG}g")
            if group.get("class") == "answer"}
    acknowledgement = [group for group in svg.iter(f"{SVG}g") if group.get("data-kind") == "delivery_acknowledgement"]
    root_left = float(bars[root["question_uuid"]].get("x"))
    assert float(acknowledgement[0].find(f"{SVG}circle").get("cx")) < root_left
    assert root_left > float(svg.find(f".//{SVG}g[@class='question']/{SVG}text").get("x"))  # right of the labels
    if importlib.util.find_spec("matplotlib"):
        draw_png(timeline, tmp_path / "skew.png")
        assert png_size(tmp_path / "skew.png") == (1440, 138 + 2 * 42 + 72)


def test_a_tree_too_big_for_one_png_is_refused_before_drawing(tmp_path):
    timeline = Timeline.from_rows(wide_tree(MAX_QUESTIONS + 1))
    with pytest.raises(ValueError, match=f"The tree has {MAX_QUESTIONS + 1} questions: a PNG shows at most"):
        draw_png(timeline, tmp_path / "big.png")
    assert not (tmp_path / "big.png").exists()


# ------------------------------------------------------------------------------------------------------------ HTML


class Collector(html.parser.HTMLParser):
    """The text of an HTML page, its elements' names and attributes, and the text of each `<title>` (the hovers)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.titles: list[str] = []
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_title = tag == "title"
        if self._in_title:
            self.titles.append("")

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        self._in_title = False

    def handle_data(self, data):
        self.text.append(data)
        if self._in_title:
            self.titles[-1] += data


def test_the_html_page_opens_and_holds_the_tree(tree, tmp_path):
    timeline, asked = tree
    path = tmp_path / "tree.html"
    draw_html(timeline, path)
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")  # self-contained: fetches nothing

    document = ET.fromstring(page.split("\n", 1)[1])  # well-formed: any XML parser reads it
    svg = document.find(f".//{SVG}svg")
    groups = svg.findall(f".//{SVG}g[@class='question']")
    assert [group.get("data-question-uuid") for group in groups] == [q.question_uuid for q in timeline.questions]
    for group, question in zip(groups, timeline.questions, strict=True):
        texts = ["".join(text.itertext()) for text in group.iter(f"{SVG}text")]
        assert texts[0].endswith(question.service_name) and texts[1].startswith(question.short_uuid)
        assert group.get("data-depth") == str(question.depth) and group.get("data-outcome") == question.outcome
    bars = {group.get("data-question-uuid"): group.find(f"{SVG}rect") for group in svg.iter(f"{SVG}g")
            if group.get("class") == "answer"}
    for question in timeline.questions:
        assert bars[question.question_uuid].get("stroke") == OUTCOME_STYLES[question.outcome].edge
    for kind in MARKER_KINDS:
        drawn = [group for group in svg.iter(f"{SVG}g") if group.get("data-kind") == kind]
        assert len(drawn) == sum(len(question.markers_of(kind)) for question in timeline.questions), kind
    assert len(svg.findall(f".//{SVG}line[@class='link']")) == 3  # parent to child, three times

    collector = Collector()
    collector.feed(page)
    titles = "\n".join(collector.titles)
    assert "log record · 2.200 s (09:30:02.200 UTC)\nterrain-service" in titles  # a marker's hover: kind and time
    assert "WARNING [app] Tile N51W001 is missing." in titles  # ... and its text
    assert "FileNotFoundError: No tile N51W001 in gs://terrain/tiles." in titles
    assert f"question {asked['terrain']['question_uuid']}\nasked by {ELEVATION}" in titles  # a bar's hover
    assert "4 questions: 3 answered, 1 failed, 0 without an answer yet, over 6.40 s" in "".join(collector.text)

    (data,) = [element for element in document.iter("script") if element.get("id") == "timeline-data"]
    assert json.loads(data.text) == json.loads(json.dumps(timeline.to_dict()))


def test_the_html_page_shows_any_text_literally(tmp_path):
    """A log message is data, never markup: `<script>`, `&` and control characters are shown as they are, and the
    page stays well-formed."""
    recording = Recording()
    question = recording.ask(0.0, WIND)
    message = "</script><script>alert('&')</script>\x07 done"
    recording.log(question, 0.5, message, level=logging.ERROR)
    recording.result(question, 1.0, {"html": "<b>bold</b>"})
    path = tmp_path / "odd.html"
    draw_html(Timeline.from_rows(recording.rows), path)
    page = path.read_text(encoding="utf-8")
    assert "<script>alert" not in page
    document = ET.fromstring(page.split("\n", 1)[1])
    texts = "".join(document.itertext())
    assert "ERROR [app] </script><script>alert('&')</script> done" in texts
    (data,) = [element for element in document.iter("script") if element.get("id") == "timeline-data"]
    marker = json.loads(data.text)["questions"][0]["markers"][0]
    assert marker["text"] == "ERROR [app] </script><script>alert('&')</script>\x07 done"


# ------------------------------------------------------------------------------------------------------------- CLI


def write_store(folder, *recordings: Recording) -> None:
    """A local event store holding the recordings' rows, as the recorder writes them (a Parquet file in the date
    partition of their day)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from octue_beam.events.rows import PARQUET_SCHEMA

    partition = folder / f"date={START.date().isoformat()}"
    partition.mkdir(parents=True, exist_ok=True)
    for index, recording in enumerate(recordings):
        table = pa.Table.from_pylist(recording.stored_rows, schema=PARQUET_SCHEMA)
        pq.write_table(table, partition / f"events-{index}.parquet")


def run_cli(*arguments: str, blocked: str | None = None) -> subprocess.CompletedProcess:
    """`python -m octue_beam <arguments>` in its own process (with the module `blocked` made unimportable)."""
    code = "import runpy, sys; sys.argv = ['octue_beam', *sys.argv[1:]]; "
    if blocked:
        code += f"sys.modules[{blocked!r}] = None; "
    code += "runpy.run_module('octue_beam', run_name='__main__')"
    return subprocess.run(
        [sys.executable, "-c", code, *arguments], cwd=REPOSITORY, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def store(tmp_path):
    """A store with two trees: the parent with two children, and another tree of three questions."""
    recording, asked = parent_with_children(as_recording=True)
    other = Recording()
    other_root = other.ask(10.0, PARENT_SERVICE)
    for index in range(2):
        other.result(other.ask(10.5, WIND, other_root), 11.0 + index, {"n": index})
    other.result(other_root, 13.0, {})
    write_store(tmp_path / "store", recording, other)
    return tmp_path / "store", asked


def test_events_timeline_draws_a_tree_of_the_store_as_png_and_html(store, tmp_path, capsys):
    from octue_beam.cli import main

    folder, asked = store
    root = asked["root"]["question_uuid"]
    for name in ("tree.png", "tree.html"):
        code = main(["events", "timeline", "--originator-question-uuid", root, "--output", str(tmp_path / name),
                     "--store", str(folder)])
        assert code == 0
        assert capsys.readouterr().out == (
            "Wrote the timeline of 4 questions: 3 answered, 1 failed, 0 without an answer yet, over 6.40 s, to "
            f"{tmp_path / name}.\n"
        )
    assert png_size(tmp_path / "tree.png") == (1440, 138 + 4 * 42 + 72)  # the chosen tree alone
    page = (tmp_path / "tree.html").read_text(encoding="utf-8")
    document = ET.fromstring(page.split("\n", 1)[1])
    groups = [group for group in document.iter(f"{SVG}g") if group.get("class") == "question"]
    assert [group.get("data-question-uuid") for group in groups] == [
        asked[name]["question_uuid"] for name in ("root", "wind", "elevation", "terrain")
    ]


def test_events_timeline_errors_name_what_is_wrong(store, tmp_path):
    folder, asked = store
    root = asked["root"]["question_uuid"]
    cases = [
        (["--output", str(tmp_path / "tree.svg"), "--store", str(folder)],
         f"--output '{tmp_path / 'tree.svg'}' must end in .png (a picture) or .html"),
        (["--output", str(tmp_path / "nowhere" / "tree.png"), "--store", str(folder)],
         f"there is no folder '{tmp_path / 'nowhere'}'"),
        (["--output", str(tmp_path / "tree.png"), "--store", str(tmp_path / "empty")],
         f"There is no event store at '{tmp_path / 'empty'}'"),
    ]
    for arguments, message in cases:
        completed = run_cli("events", "timeline", "--originator-question-uuid", root, *arguments)
        assert completed.returncode == 1, completed.stderr
        assert message in completed.stderr
    unknown = "00000000-0000-4000-8000-000000000000"
    completed = run_cli("events", "timeline", "--originator-question-uuid", unknown, "--output",
                        str(tmp_path / "tree.html"), "--store", str(folder))
    assert completed.returncode == 1
    assert f"The event store {folder} holds no events of the question tree {unknown}" in completed.stderr
    completed = run_cli("events", "timeline", "--originator-question-uuid", "root", "--output",
                        str(tmp_path / "tree.html"), "--store", str(folder))
    assert completed.returncode == 1 and "originator_question_uuid must be a UUID" in completed.stderr
    assert not list(tmp_path.glob("tree.*"))


def test_events_timeline_names_the_extra_when_matplotlib_is_missing(store, tmp_path):
    folder, asked = store
    arguments = ["events", "timeline", "--originator-question-uuid", asked["root"]["question_uuid"], "--store",
                 str(folder), "--output"]
    completed = run_cli(*arguments, str(tmp_path / "tree.png"), blocked="matplotlib")
    assert completed.returncode == 1
    assert "needs matplotlib: pip install 'octue_beam[timeline]'" in completed.stderr
    assert not (tmp_path / "tree.png").exists()
    completed = run_cli(*arguments, str(tmp_path / "tree.html"), blocked="matplotlib")  # HTML needs nothing
    assert completed.returncode == 0, completed.stderr
    assert (tmp_path / "tree.html").stat().st_size > 10_000


def test_events_timeline_help_imports_neither_matplotlib_nor_the_store():
    modules = imported_modules("events", "timeline", "--help")
    assert [name for name in modules if name.split(".")[0] in ("matplotlib", "pyarrow", "apache_beam")] == []
    assert "octue_beam.events.timeline" not in modules


# -------------------------------------------------------------------------------------------------- a real tree


class TopicRecorder:
    """Every message of a services topic, kept as the recorder stores it (`events.rows.event_row`), through a
    subscription of its own on the Pub/Sub emulator."""

    def __init__(self, project: str, topic: str) -> None:
        from google.cloud import pubsub_v1

        from octue_beam.messaging.pubsub import delete_subscription, ensure_subscription

        self.stored_rows: list[dict] = []
        self.name = f"test-timeline-{uuid.uuid4().hex[:10]}"
        path = ensure_subscription(project, self.name, topic, enable_message_ordering=True)
        self._delete = lambda: delete_subscription(project, self.name)
        self._subscriber = pubsub_v1.SubscriberClient()
        self._lock = threading.Lock()
        self._future = self._subscriber.subscribe(path, self._receive)

    def _receive(self, message) -> None:
        from octue_beam.events.rows import event_row

        message.ack()
        row = event_row(message.data, dict(message.attributes), message.message_id, message.publish_time,
                        message.ordering_key)
        with self._lock:
            self.stored_rows.append(row)

    def rows(self, until_kinds: int, originator_question_uuid: str, timeout: float = 30) -> list[dict]:
        """The rows read back, once the tree has `until_kinds` final events (result or exception)."""
        from octue_beam.events.rows import read_row

        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                rows = [read_row(row) for row in self.stored_rows
                        if row["originator_question_uuid"] == originator_question_uuid]
            if sum(row["kind"] in ("result", "exception") for row in rows) >= until_kinds:
                return rows
            if time.monotonic() > deadline:
                raise TimeoutError(f"The tree has {len(rows)} events, not {until_kinds} answers, after {timeout} s.")
            time.sleep(0.1)

    def close(self) -> None:
        self._future.cancel()
        try:
            self._future.result(timeout=10)
        except Exception:  # noqa: BLE001 - cancelled
            pass
        self._subscriber.close()
        self._delete()


def test_the_timeline_of_a_real_parent_with_two_children(pubsub_emulator, tmp_path):
    """The child-services example served as three pipelines, asked once; every message of its topic recorded as
    the event store keeps it: the timeline is the real tree, and both pictures draw it."""
    from octue_beam import ask
    from tests.pipeline.test_child_services import CHILD_PROJECT, EXAMPLE, serving

    services = [EXAMPLE / name for name in ("wind-speed-service", "elevation-service", "parent-service")]
    # Heartbeats every 10 ms (the first comes one interval after the acknowledgement): the parent, which waits for
    # its children over Pub/Sub, sends some to draw.
    with serving(services, "test.timeline", "--heartbeat_interval", "0.01") as topic:
        recorder = TopicRecorder(CHILD_PROJECT, topic)
        try:
            locations = [{"latitude": 51.5, "longitude": -0.1}]
            _, question_uuid = ask("octue-beam-examples/parent-service:local", {"locations": locations},
                                   topic_name=topic, project=CHILD_PROJECT, timeout=120)
            rows = recorder.rows(until_kinds=3, originator_question_uuid=question_uuid)
        finally:
            recorder.close()

    timeline = Timeline.from_rows(rows)
    root, *children = timeline.questions
    assert root.question_uuid == question_uuid and root.service == "octue-beam-examples/parent-service:local"
    assert sorted(child.service_name for child in children) == ["elevation-service", "wind-speed-service"]
    assert [question.depth for question in timeline.questions] == [0, 1, 1]
    assert root.children == [child.question_uuid for child in children]
    assert {question.outcome for question in timeline.questions} == {RESULT}
    for question in timeline.questions:
        assert question.asked_recorded and len(question.markers_of("delivery_acknowledgement")) == 1
        assert 0 <= question.start < question.end <= timeline.end
    assert root.markers_of("heartbeat")
    for child in children:  # asked while the parent ran, answered before it
        assert root.start < child.start and child.end < root.end
        assert child.asker == root.service
    assert "Asking the children about 1 locations." in [marker.text.split("] ", 1)[1]
                                                       for marker in root.markers_of("log_record")]

    draw_png(timeline, tmp_path / "real.png")
    assert png_size(tmp_path / "real.png") == (1440, 138 + 3 * 42 + 72)
    draw_html(timeline, tmp_path / "real.html")
    ET.fromstring((tmp_path / "real.html").read_text(encoding="utf-8").split("\n", 1)[1])


def test_events_timeline_reads_a_bigquery_table_through_the_stand_in_for_the_google_api(tmp_path, monkeypatch,
                                                                                      capsys):
    """`--table` reads the tree with one parameterised query (the BigQuery client's real REST call, answered by a
    stand-in for the Google API) and draws what it returns."""
    from octue_beam.cli import main
    from tests.events.test_bigquery_store import PROJECT, QUERIES, query_response
    from tests.support.google_api import GoogleApiStandIn

    recording, asked = parent_with_children(as_recording=True)
    root = asked["root"]["question_uuid"]
    with GoogleApiStandIn() as standin:
        standin.route("POST", QUERIES, query_response(recording.stored_rows))
        monkeypatch.setenv("OCTUE_BEAM_BIGQUERY_ENDPOINT", standin.endpoint)
        code = main(["events", "timeline", "--originator-question-uuid", root, "--output", str(tmp_path / "t.html"),
                     "--table", f"{PROJECT}.octue_twined.service-events"])
        (request,) = standin.requests_to("POST", QUERIES)
    assert code == 0, capsys.readouterr().err
    assert root in json.dumps(request.json["queryParameters"]) and root not in request.json["query"]
    page = (tmp_path / "t.html").read_text(encoding="utf-8")
    assert all(asked[name]["question_uuid"] in page for name in asked)
