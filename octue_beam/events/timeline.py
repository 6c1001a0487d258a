"""A question tree over time, built from event-store rows: the model the timeline pictures draw (docs/events.md).

`Timeline.from_rows(rows)` takes the rows of one question tree (dicts with the event-store row columns of
docs/protocol.md, as `octue_beam.events.store.read_events` returns them) and gives one `TimelineQuestion` per
question, in tree order (each parent followed by its children, in the order they were asked), with its depth, its
parent and children, when it was asked and answered (seconds since the originator's question), its outcome and a
`Marker` for each delivery acknowledgement, heartbeat, log record, monitor message and exception. It knows nothing
of the store or of drawing: `timeline_png.draw_png` and `timeline_html.draw_html` draw it, with the colours and
symbols of `OUTCOME_STYLES` and `MARKER_STYLES` (the Okabe-Ito palette, readable with every common colour-vision
deficiency; each marker kind also has its own shape, so no kind is told by colour alone).
"""

import datetime
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

RESULT = "result"
EXCEPTION = "exception"
NO_ANSWER = "no answer yet"

OUTCOMES = (RESULT, EXCEPTION, NO_ANSWER)

#: The response kinds drawn as markers on a question's bar (the result is the bar's end), in drawing order.
MARKER_KINDS = ("log_record", "monitor_message", "heartbeat", "delivery_acknowledgement", "exception")

#: The longest text kept for a marker or an output summary (the full event stays in the store).
MAX_TEXT = 2000

#: The shortest time axis drawn (seconds), so a tree of one unanswered question still has a readable scale.
MIN_SPAN = 0.1


@dataclass(frozen=True)
class OutcomeStyle:
    """How a question's bar is drawn for an outcome: a light fill and a strong edge of one Okabe-Ito colour."""

    label: str
    edge: str
    fill: str
    hatched: bool = False


@dataclass(frozen=True)
class MarkerStyle:
    """How a marker kind is drawn: its legend label, colour, shape (`symbol`) and lane (-1 above the bar's middle,
    0 on it, 1 below it), so that markers at the same time but of different kinds do not hide each other."""

    label: str
    colour: str
    symbol: str  # "triangle", "tick", "circle", "diamond" or "cross"
    lane: int


OUTCOME_STYLES: dict[str, OutcomeStyle] = {
    RESULT: OutcomeStyle("answered (result)", edge="#009E73", fill="#B3E2D4"),  # bluish green
    EXCEPTION: OutcomeStyle("failed (exception)", edge="#D55E00", fill="#F2CDB3"),  # vermillion
    NO_ANSWER: OutcomeStyle("no answer yet", edge="#6E6E6E", fill="#E3E3E3", hatched=True),  # grey, hatched
}

MARKER_STYLES: dict[str, MarkerStyle] = {
    "delivery_acknowledgement": MarkerStyle("delivery acknowledged", "#000000", "triangle", lane=0),
    "heartbeat": MarkerStyle("heartbeat", "#0072B2", "tick", lane=1),  # blue
    "log_record": MarkerStyle("log record", "#CC79A7", "circle", lane=-1),  # reddish purple
    "monitor_message": MarkerStyle("monitor message", "#E69F00", "diamond", lane=-1),  # orange
    "exception": MarkerStyle("exception", "#D55E00", "cross", lane=0),  # vermillion
}


@dataclass(frozen=True)
class Marker:
    """One response event drawn on its question's bar: its kind, when (seconds since the originator's question, and
    the UTC time) and a one-paragraph text (the log message, the monitor message's JSON, the exception)."""

    kind: str
    seconds: float
    time: datetime.datetime
    text: str


@dataclass
class TimelineQuestion:
    """One question of the tree: who answered it, where it sits in the tree, when it was asked and answered."""

    question_uuid: str
    parent_question_uuid: str | None
    service: str  # SRUID of the service asked (the question's recipient)
    asker: str | None  # SRUID of the service or client that asked it (the question's sender)
    start: float  # seconds since the originator's question: when it was asked (else its first recorded event)
    end: float | None  # when it was answered (its result or final exception), None without an answer
    outcome: str  # RESULT, EXCEPTION or NO_ANSWER
    depth: int = 0
    children: list[str] = field(default_factory=list)  # question UUIDs, in the order they were asked
    markers: list[Marker] = field(default_factory=list)
    asked_recorded: bool = True  # whether the question event itself is in the rows (else start is its first event)
    retries: int = 0  # the highest retry_count seen
    answer_text: str = ""  # the exception, or a summary of the output values

    @property
    def short_uuid(self) -> str:
        """The first 8 hexadecimal digits of the question UUID (how the pictures label it)."""
        return self.question_uuid[:8]

    @property
    def service_name(self) -> str:
        """The service's name, from its SRUID (`namespace/name:tag` -> `name`)."""
        return service_name(self.service)

    @property
    def revision_tag(self) -> str:
        """The service's revision tag, from its SRUID ("" when it has none)."""
        return self.service.rpartition(":")[2] if ":" in self.service else ""

    @property
    def label(self) -> str:
        """`name (1a2b3c4d)`: the service and the short question UUID."""
        return f"{self.service_name} ({self.short_uuid})"

    @property
    def duration(self) -> float | None:
        """Seconds from question to answer, None without an answer (negative when the answering service's clock is
        behind the asker's)."""
        return None if self.end is None else self.end - self.start

    def outcome_text(self, timeline_end: float) -> str:
        """What the pictures write after the bar: `1.20 s`, `1.20 s  ValueError`, `no answer after 3.10 s`."""
        if self.end is None:
            return f"no answer after {format_seconds(timeline_end - self.start)}"
        duration = self.end - self.start
        text = format_seconds(duration)
        if duration < 0:
            text = f"answered {format_seconds(-duration)} before it was asked (the services' clocks differ)"
        if self.outcome == EXCEPTION:
            text += f"  {self.answer_text.split(':', 1)[0]}"
        return text

    def markers_of(self, kind: str) -> list[Marker]:
        """The markers of one kind, in time order."""
        return [marker for marker in self.markers if marker.kind == kind]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the HTML picture embeds these)."""
        return {
            "question_uuid": self.question_uuid,
            "parent_question_uuid": self.parent_question_uuid,
            "service": self.service,
            "asker": self.asker,
            "label": self.label,
            "depth": self.depth,
            "start": self.start,
            "end": self.end,
            "duration": self.duration,
            "outcome": self.outcome,
            "children": list(self.children),
            "asked_recorded": self.asked_recorded,
            "retries": self.retries,
            "answer_text": self.answer_text,
            "markers": [
                {"kind": marker.kind, "seconds": marker.seconds, "time": marker.time.isoformat(), "text": marker.text}
                for marker in self.markers
            ],
        }


@dataclass
class Timeline:
    """A question tree over time: its questions in tree order and the time everything is measured from."""

    originator_question_uuid: str
    start_time: datetime.datetime  # UTC: the originator's question (else the first recorded event)
    end: float  # seconds since start_time of the last recorded event (at least 0)
    questions: list[TimelineQuestion]

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]], originator_question_uuid: str | None = None) -> "Timeline":
        """The timeline of the question tree of `originator_question_uuid` in `rows` (event-store rows, in any
        order). Without `originator_question_uuid`, the rows must hold exactly one tree.

        Rows of other trees are ignored. Raises ValueError when no row is left, when the rows hold several trees
        and none is chosen, or naming the row (its uuid) and column when a row lacks a column the timeline needs.
        """
        parsed = [_parse_row(row) for row in rows]
        trees = sorted({row.originator_question_uuid for row in parsed})
        if originator_question_uuid is None:
            if len(trees) > 1:
                raise ValueError(
                    f"The events hold {len(trees)} question trees ({', '.join(trees)}): choose one by its originator "
                    f"question UUID."
                )
            if not trees:
                raise ValueError("There are no events to draw.")
            originator_question_uuid = trees[0]
        parsed = [row for row in parsed if row.originator_question_uuid == originator_question_uuid]
        if not parsed:
            raise ValueError(f"There are no events of the question tree {originator_question_uuid}.")
        parsed.sort(key=lambda row: row.time)
        return _build(parsed, originator_question_uuid)

    @property
    def earliest(self) -> float:
        """Seconds of the earliest thing drawn: 0, or less when a service's clock is behind the originator's (each
        event's time is its sender's)."""
        times = [question.start for question in self.questions]
        times += [marker.seconds for question in self.questions for marker in question.markers]
        return min([0.0, *times])

    def time_range(self) -> tuple[float, float]:
        """The seconds the time axis must show: from `earliest` to the last event, at least `MIN_SPAN` long."""
        return self.earliest, max(self.end, self.earliest + MIN_SPAN)

    def bar(self, question: TimelineQuestion) -> tuple[float, float]:
        """Where a question's bar starts and ends (seconds): from when it was asked to its answer, or to the last
        event of the tree without one, widened to hold every event of the question (whose times are its service's
        clock, which may differ from its parent's)."""
        times = [question.start, *(marker.seconds for marker in question.markers)]
        if question.end is not None:
            times.append(question.end)
        right = question.end if question.end is not None else self.end
        return min(times), max(right, *times)

    def question(self, question_uuid: str) -> TimelineQuestion:
        """The question of this UUID; KeyError naming it if the tree has none."""
        for question in self.questions:
            if question.question_uuid == question_uuid:
                return question
        raise KeyError(f"The timeline has no question {question_uuid}.")

    @property
    def originator(self) -> TimelineQuestion:
        """The root question of the tree (the first question when the originator's own events are missing)."""
        try:
            return self.question(self.originator_question_uuid)
        except KeyError:
            return self.questions[0]

    def row_of(self, question_uuid: str) -> int:
        """The row (0 at the top) a question is drawn on."""
        return self.questions.index(self.question(question_uuid))

    def outcome_counts(self) -> dict[str, int]:
        """How many questions ended in each outcome (every outcome listed, zeros included)."""
        return {outcome: sum(question.outcome == outcome for question in self.questions) for outcome in OUTCOMES}

    def summary(self) -> str:
        """`3 questions: 2 answered, 1 failed, 0 without an answer yet, over 4.2 s`."""
        counts = self.outcome_counts()
        noun = "question" if len(self.questions) == 1 else "questions"
        return (
            f"{len(self.questions)} {noun}: {counts[RESULT]} answered, {counts[EXCEPTION]} failed, "
            f"{counts[NO_ANSWER]} without an answer yet, over {format_seconds(self.end)}"
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the whole timeline (the HTML picture embeds it)."""
        return {
            "originator_question_uuid": self.originator_question_uuid,
            "start_time": self.start_time.isoformat(),
            "end": self.end,
            "questions": [question.to_dict() for question in self.questions],
        }


def service_name(sruid: str) -> str:
    """`namespace/name:tag` -> `name` (anything else is returned as it is)."""
    return sruid.split("/", 1)[-1].split(":", 1)[0] or sruid


def format_seconds(seconds: float) -> str:
    """`42 ms`, `4.20 s`, `95.0 s`, `2 min 5 s`, `1 h 2 min`: short, with the precision that matters."""
    if seconds < 0:
        return f"-{format_seconds(-seconds)}"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 100:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        minutes, rest = divmod(round(seconds), 60)
        return f"{minutes} min {rest} s" if minutes else f"{rest} s"
    hours, rest = divmod(round(seconds), 3600)
    return f"{hours} h {rest // 60} min"


# ---------------------------------------------------------------------------------------------------------- rows


@dataclass(frozen=True)
class _Row:
    time: datetime.datetime
    kind: str
    event: Mapping[str, Any]
    question_uuid: str
    parent_question_uuid: str | None
    originator_question_uuid: str
    sender: str | None
    recipient: str | None
    parent: str | None
    retry_count: int


def _parse_row(row: Mapping[str, Any]) -> _Row:
    """The columns of one event-store row the timeline uses, checked."""
    name = row.get("uuid") or "without a uuid"
    for column in ("datetime", "question_uuid", "originator_question_uuid"):
        if not row.get(column):
            raise ValueError(f"Event row {name} has no {column!r} column value.")
    event = row.get("event")
    if isinstance(event, (str, bytes)):
        try:
            event = json.loads(event)
        except ValueError:
            raise ValueError(f"Event row {name}: the 'event' column is not JSON.") from None
    event = dict(event or {})
    kind = event.get("kind") or row.get("kind")
    if not kind:
        raise ValueError(f"Event row {name} has no 'kind' (neither a column nor in its event).")
    event["kind"] = kind
    return _Row(
        time=_utc(row["datetime"], name),
        kind=kind,
        event=event,
        question_uuid=str(row["question_uuid"]),
        parent_question_uuid=row.get("parent_question_uuid") or None,
        originator_question_uuid=str(row["originator_question_uuid"]),
        sender=row.get("sender") or None,
        recipient=row.get("recipient") or None,
        parent=row.get("parent") or None,
        retry_count=_retry_count(row),
    )


def _utc(value: Any, name: str) -> datetime.datetime:
    """A row's datetime as an aware UTC datetime (from a datetime, pandas Timestamp or ISO 8601 string; naive values
    are UTC, as the wire's are)."""
    if isinstance(value, str):
        try:
            value = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"Event row {name}: 'datetime' {value!r} is not an ISO 8601 time.") from None
    if not isinstance(value, datetime.datetime):
        raise ValueError(f"Event row {name}: 'datetime' must be a time, not {type(value).__name__}.")
    if value.tzinfo is None:
        return value.replace(tzinfo=datetime.timezone.utc)
    return value.astimezone(datetime.timezone.utc)


def _retry_count(row: Mapping[str, Any]) -> int:
    """The retry count, from the row's own column if it has one, else its other attributes (JSON)."""
    value = row.get("retry_count")
    if value is None:
        other = row.get("other_attributes")
        if isinstance(other, (str, bytes)):
            try:
                other = json.loads(other)
            except ValueError:
                other = None
        value = other.get("retry_count") if isinstance(other, Mapping) else None
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


# ------------------------------------------------------------------------------------------------------ building


def _build(rows: list[_Row], originator_question_uuid: str) -> Timeline:
    origin_rows = [row for row in rows if row.question_uuid == originator_question_uuid and row.kind == "question"]
    start_time = (origin_rows or rows)[0].time

    def seconds(time: datetime.datetime) -> float:
        return (time - start_time).total_seconds()

    by_question: dict[str, list[_Row]] = {}
    for row in rows:
        by_question.setdefault(row.question_uuid, []).append(row)

    questions = {uuid: _question(uuid, question_rows, seconds) for uuid, question_rows in by_question.items()}
    _add_unrecorded_parents(questions, rows, seconds)

    for question in sorted(questions.values(), key=lambda question: (question.start, question.question_uuid)):
        parent = questions.get(question.parent_question_uuid or "")
        if parent is not None and parent is not question:
            parent.children.append(question.question_uuid)

    roots = [
        question
        for question in questions.values()
        if question.parent_question_uuid not in questions or question.parent_question_uuid == question.question_uuid
    ]
    roots.sort(key=lambda question: (question.question_uuid != originator_question_uuid, question.start))
    ordered: list[TimelineQuestion] = []
    for root in roots:
        _walk(root, 0, questions, ordered, set())
    return Timeline(
        originator_question_uuid=originator_question_uuid,
        start_time=start_time,
        end=max(0.0, seconds(rows[-1].time)),
        questions=ordered,
    )


def _question(question_uuid: str, rows: list[_Row], seconds: Any) -> TimelineQuestion:
    """One question from its rows (in time order)."""
    asked = [row for row in rows if row.kind == "question"]
    responses = [row for row in rows if row.kind != "question"]
    finals = [row for row in responses if row.kind in (RESULT, EXCEPTION)]
    first = (asked or rows)[0]
    final = finals[-1] if finals else None
    service = (asked[0].recipient if asked else None) or (responses[0].sender if responses else None) or "unknown"
    asker = (asked[0].sender if asked else None) or (responses[0].recipient if responses else None)
    return TimelineQuestion(
        question_uuid=question_uuid,
        parent_question_uuid=first.parent_question_uuid,
        service=service,
        asker=asker,
        start=seconds(first.time),
        end=None if final is None else seconds(final.time),
        outcome=NO_ANSWER if final is None else final.kind,
        markers=[
            Marker(row.kind, seconds(row.time), row.time, marker_text(row.event))
            for row in responses
            if row.kind in MARKER_KINDS
        ],
        asked_recorded=bool(asked),
        retries=max(row.retry_count for row in rows),
        answer_text="" if final is None else marker_text(final.event),
    )


def _add_unrecorded_parents(questions: dict[str, TimelineQuestion], rows: list[_Row], seconds: Any) -> None:
    """Give a question whose parent question has no rows (the recorder started late, or missed it) that parent, with
    no answer, as it is all the tree knows of it: its service is what its children name as their `parent`."""
    for row in rows:
        uuid = row.parent_question_uuid
        if not uuid or uuid in questions:
            continue
        questions[uuid] = TimelineQuestion(
            question_uuid=uuid,
            parent_question_uuid=None,
            service=row.parent or "unknown",
            asker=None,
            start=seconds(row.time),
            end=None,
            outcome=NO_ANSWER,
            asked_recorded=False,
        )


def _walk(
    question: TimelineQuestion,
    depth: int,
    questions: dict[str, TimelineQuestion],
    ordered: list[TimelineQuestion],
    seen: set[str],
) -> None:
    if question.question_uuid in seen:  # a loop of parent links (corrupt rows) is drawn once
        return
    seen.add(question.question_uuid)
    question.depth = depth
    ordered.append(question)
    for child in question.children:
        _walk(questions[child], depth + 1, questions, ordered, seen)


def marker_text(event: Mapping[str, Any]) -> str:
    """The text shown for an event: a log record's level, logger and message; a monitor message's JSON; an
    exception's type, message and last traceback line; a summary of a result's outputs."""
    kind = event.get("kind")
    if kind == "log_record":
        record = event.get("log_record") or {}
        text = f"{record.get('levelname', 'LOG')} [{record.get('name', '')}] {record.get('msg', '')}"
        if record.get("exc_text"):
            text += f"\n{record['exc_text']}"
    elif kind == "monitor_message":
        text = json.dumps(event.get("data"), default=str)
    elif kind == EXCEPTION:
        text = f"{event.get('exception_type', 'Exception')}: {event.get('exception_message', '')}"
        traceback = event.get("exception_traceback") or []
        if traceback:
            text += f"\n{str(traceback[-1]).rstrip()}"
    elif kind == RESULT:
        parts = []
        if "output_values" in event:
            parts.append(f"output values: {json.dumps(event['output_values'], default=str)}")
        if event.get("output_manifest"):
            datasets = (event["output_manifest"] or {}).get("datasets") or {}
            parts.append(f"output manifest: {len(datasets)} dataset{'s' if len(datasets) != 1 else ''}")
        text = "; ".join(parts) or "no output"
    else:
        text = str(kind)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"
