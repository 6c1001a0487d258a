"""The timeline of a question tree as one self-contained HTML file: an SVG picture with hover details, a table of
the questions with each one's events, and the timeline's data as JSON. Nothing to install, nothing fetched.

The picture is the PNG's (`timeline_png`): the tree on the left, a bar per question from question to answer coloured
by outcome, a marker per event, a line from each parent to each child at the moment it was asked. Hovering a bar
shows the question (service, UUID, asker, times, outcome, answer); hovering a marker shows its kind, time and text
(the log message, the monitor message, the exception). The file is well-formed XML as well as HTML, so it can be
read back by any XML parser; the data is in `<script type="application/json" id="timeline-data">`.
"""

import html
import json
import math
import os
from collections.abc import Callable, Iterator

from octue_beam.events.timeline import (
    EXCEPTION,
    MARKER_KINDS,
    MARKER_STYLES,
    NO_ANSWER,
    OUTCOME_STYLES,
    OUTCOMES,
    Marker,
    Timeline,
    TimelineQuestion,
    format_seconds,
)

WIDTH = 1200  # pixels of the picture
ROW_HEIGHT = 36
BAR_HEIGHT = 20
LANE_OFFSET = 5
TOP = 12
AXIS_HEIGHT = 48
RIGHT_ROOM = 150  # after the time axis, for the last bar's duration
STRIPE = "#F3F4F6"
CONNECTOR = "#4D4D4D"
TEXT = "#1A1A1A"
MUTED = "#6B6B6B"

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #1A1A1A;
       margin: 24px; background: #FFFFFF; }
h1 { font-size: 20px; margin: 0 0 4px 0; }
h2 { font-size: 16px; margin: 28px 0 8px 0; }
p.summary { color: #6B6B6B; font-size: 13px; margin: 0 0 12px 0; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 18px; font-size: 12px; margin: 0 0 10px 0; align-items: center; }
.legend span { display: inline-flex; align-items: center; gap: 6px; }
svg.timeline { display: block; max-width: 100%; height: auto; }
svg text { font-family: inherit; }
.question:hover .stripe { fill: #E3EDF8; }
.bar:hover { stroke-width: 2.4; }
.marker:hover .shape { transform-box: fill-box; transform-origin: center; transform: scale(1.6); }
.uuid { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace; font-size: 12px; }
table { border-collapse: collapse; font-size: 13px; }
th, td { text-align: left; padding: 4px 10px; border-bottom: 1px solid #E5E5E5; vertical-align: top; }
th { color: #6B6B6B; font-weight: 600; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
.outcome { display: inline-block; padding: 1px 7px; border-radius: 9px; border: 1px solid; font-size: 12px; }
details { margin: 2px 0; }
details summary { cursor: pointer; color: #0072B2; }
details table { margin: 4px 0 8px 0; font-size: 12px; }
pre { margin: 0; white-space: pre-wrap; font-size: 12px; }
"""


def draw_html(timeline: Timeline, path: str | os.PathLike) -> None:
    """Write `timeline` as a self-contained HTML file at `path`."""
    with open(path, "w", encoding="utf-8") as file:
        file.write(html_document(timeline))


def html_document(timeline: Timeline) -> str:
    """The whole HTML page of `timeline`."""
    originator = timeline.originator
    title = f"Question tree of {originator.service}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8"/>',
        '<meta name="viewport" content="width=device-width, initial-scale=1"/>',
        f"<title>{_text(title)} ({_text(originator.short_uuid)})</title>",
        f"<style>{_STYLE}</style>",
        "</head>",
        "<body>",
        f"<h1>{_text(title)}</h1>",
        f'<p class="summary">originator question <span class="uuid">{_text(timeline.originator_question_uuid)}'
        f"</span> · asked {timeline.start_time:%Y-%m-%d %H:%M:%S} UTC · {_text(timeline.summary())}</p>",
        _legend(),
        svg_picture(timeline),
        "<h2>Questions</h2>",
        _table(timeline),
        '<script type="application/json" id="timeline-data">',
        _script_json(timeline.to_dict()),
        "</script>",
        "</body>",
        "</html>",
        "",
    ]
    return "\n".join(parts)


# ------------------------------------------------------------------------------------------------------- picture


def svg_picture(timeline: Timeline) -> str:
    """The SVG picture alone (one `<g class="question">` per question, with `<title>` hover details)."""
    questions = timeline.questions
    label_width = min(max((24 + 22 * q.depth + 8 * len(q.service_name) for q in questions), default=220), 420)
    label_width = max(label_width, 220)
    x0 = label_width + 16
    x1 = WIDTH - RIGHT_ROOM
    rows_height = ROW_HEIGHT * len(questions)
    height = TOP + rows_height + AXIS_HEIGHT
    ticks = _ticks(*timeline.time_range())
    low, high = ticks[0], ticks[-1]

    def x(seconds: float) -> float:
        return round(x0 + (x1 - x0) * (seconds - low) / (high - low), 2)

    def y(row: int) -> float:
        return TOP + ROW_HEIGHT * row + ROW_HEIGHT / 2

    out = [
        f'<svg class="timeline" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{_attribute(timeline.summary())}">',
        "<defs>",
        '<pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
        f'<rect width="6" height="6" fill="{OUTCOME_STYLES[NO_ANSWER].fill}"/>'
        f'<line x1="0" y1="0" x2="0" y2="6" stroke="{OUTCOME_STYLES[NO_ANSWER].edge}" stroke-width="1.2"/></pattern>',
        "</defs>",
    ]
    # One group per question: its stripe and label (hovering it highlights the row).
    for row, question in enumerate(questions):
        top = TOP + ROW_HEIGHT * row
        indent = 10 + 22 * question.depth
        weight = ' font-weight="700"' if question.depth == 0 else ""
        detail = f"{question.short_uuid}  {question.revision_tag}".rstrip()
        if question.retries:
            detail += f"  retry {question.retries}"
        out.append(
            f'<g class="question" data-question-uuid="{_attribute(question.question_uuid)}" '
            f'data-outcome="{_attribute(question.outcome)}" data-depth="{question.depth}">'
            f'<rect class="stripe" x="0" y="{top}" width="{WIDTH}" height="{ROW_HEIGHT}" '
            f'fill="{STRIPE if row % 2 == 0 else "#FFFFFF"}"/>'
            f'<text class="label" x="{indent}" y="{top + 16}" font-size="13" fill="{TEXT}"{weight}>'
            f"<title>{_text(question.service)}</title>{_text(question.service_name)}</text>"
            f'<text class="uuid" x="{indent}" y="{top + 30}" font-size="10.5" fill="{MUTED}" xml:space="preserve">'
            f"{_text(detail)}</text></g>"
        )

    # Grid lines and the time axis, over the stripes.
    out.append('<g class="axis">')
    for tick in ticks:
        out.append(
            f'<line x1="{x(tick)}" y1="{TOP}" x2="{x(tick)}" y2="{TOP + rows_height}" stroke="#D9D9D9" '
            f'stroke-width="0.8"/>'
        )
        out.append(
            f'<text x="{x(tick)}" y="{TOP + rows_height + 16}" font-size="11" fill="{TEXT}" '
            f'text-anchor="middle">{_tick_label(tick)}</text>'
        )
    out.append(
        f'<line x1="{x0}" y1="{TOP + rows_height}" x2="{x1}" y2="{TOP + rows_height}" stroke="{MUTED}"/>'
        f'<text x="{(x0 + x1) / 2}" y="{TOP + rows_height + 36}" font-size="12" fill="{MUTED}" '
        f'text-anchor="middle">seconds since the originator\'s question ({timeline.start_time:%Y-%m-%d %H:%M:%S} '
        "UTC)</text>"
    )
    out.append("</g>")

    # The tree's connectors between labels, and a line from each parent's bar to each child's, behind the bars.
    out.append('<g class="links">')
    dots = []  # where each parent asked a child, drawn on the parent's bar
    for row, question in enumerate(questions):
        elbow = 10 + 22 * question.depth + 5
        for child_uuid in question.children:
            child_row = timeline.row_of(child_uuid)
            child = questions[child_row]
            child_indent = 10 + 22 * (question.depth + 1)
            out.append(
                f'<path d="M {elbow} {TOP + ROW_HEIGHT * row + 33} V {y(child_row) - 4} H {child_indent - 4}" '
                'fill="none" stroke="#A6A6A6" stroke-width="1"/>'
            )
            out.append(
                f'<line class="link" x1="{x(child.start)}" y1="{y(row) + BAR_HEIGHT / 2}" x2="{x(child.start)}" '
                f'y2="{y(child_row) - BAR_HEIGHT / 2}" stroke="{CONNECTOR}" stroke-width="1" stroke-opacity="0.75">'
                f"<title>{_text(question.label)} asked {_text(child.label)} at {child.start:.3f} s</title></line>"
            )
            dots.append(f'<circle cx="{x(child.start)}" cy="{y(row) + BAR_HEIGHT / 2}" r="2.5" fill="{CONNECTOR}"/>')
    out.append("</g>")

    # A bar per question, from question to answer, and its duration.
    out.append('<g class="bars">')
    for row, question in enumerate(questions):
        out.append(_bar(question, timeline, x, y(row)))
    out.append("</g>")
    out.append(f'<g class="asked">{"".join(dots)}</g>')

    # Markers above everything, one layer per kind (later kinds on top).
    out.append('<g class="markers">')
    for kind in MARKER_KINDS:
        lane = MARKER_STYLES[kind].lane * LANE_OFFSET
        for row, question in enumerate(questions):
            for marker in question.markers_of(kind):
                out.append(_marker(marker, x(marker.seconds), y(row) + lane, question))
    out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)


def _bar(question: TimelineQuestion, timeline: Timeline, x: Callable[[float], float], centre: float) -> str:
    style = OUTCOME_STYLES[question.outcome]
    start, end = timeline.bar(question)
    left, right = x(start), max(x(end), x(start) + 2)
    fill = "url(#hatch)" if style.hatched else style.fill
    dashes = ' stroke-dasharray="4 2"' if question.outcome == NO_ANSWER else ""
    after = question.outcome_text(timeline.end)
    colour = style.edge if question.outcome == EXCEPTION else TEXT
    return (
        f'<g class="answer" data-question-uuid="{_attribute(question.question_uuid)}">'
        f'<rect class="bar" x="{left}" y="{centre - BAR_HEIGHT / 2}" width="{round(right - left, 2)}" '
        f'height="{BAR_HEIGHT}" rx="2" fill="{fill}" stroke="{style.edge}" stroke-width="1.3"{dashes}>'
        f"<title>{_text(_question_details(question, timeline))}</title></rect>"
        f'<text x="{right + (9 if question.outcome == EXCEPTION else 5)}" y="{centre + 4}" font-size="11.5" '
        f'fill="{colour}" xml:space="preserve">{_text(after)}</text></g>'
    )


def _question_details(question: TimelineQuestion, timeline: Timeline) -> str:
    """The hover text of a question's bar."""
    lines = [
        f"{question.service}",
        f"question {question.question_uuid}",
        f"asked by {question.asker or 'unknown'}" + ("" if question.asked_recorded else " (question not recorded)"),
        f"asked at {question.start:.3f} s",
    ]
    if question.outcome == NO_ANSWER:
        lines.append(f"no answer yet ({format_seconds(timeline.end - question.start)} after it was asked)")
    else:
        lines.append(f"answered at {question.end:.3f} s, after {format_seconds(question.duration or 0.0)}")
    lines.append(f"outcome: {OUTCOME_STYLES[question.outcome].label}")
    if question.answer_text:
        lines.append(question.answer_text)
    counts = {kind: len(question.markers_of(kind)) for kind in MARKER_KINDS}
    lines.append(", ".join(f"{count} {MARKER_STYLES[kind].label}" for kind, count in counts.items() if count))
    return "\n".join(line for line in lines if line)


def _marker(marker: Marker, cx: float, cy: float, question: TimelineQuestion) -> str:
    style = MARKER_STYLES[marker.kind]
    title = (
        f"{style.label} · {marker.seconds:.3f} s ({marker.time:%H:%M:%S}.{marker.time.microsecond // 1000:03d} UTC)"
        f"\n{question.label}"
    )
    if marker.kind not in ("heartbeat", "delivery_acknowledgement"):
        title += f"\n{marker.text}"
    return (
        f'<g class="marker" data-kind="{marker.kind}"><title>{_text(title)}</title>'
        f'<circle cx="{cx}" cy="{cy}" r="7" fill="transparent"/>{_shape(style.symbol, style.colour, cx, cy)}</g>'
    )


def _shape(symbol: str, colour: str, cx: float, cy: float, size: float = 1.0) -> str:
    """An SVG marker shape centred on (cx, cy)."""
    s = size
    if symbol == "triangle":
        points = f"{cx - 4 * s},{cy - 5 * s} {cx + 5 * s},{cy} {cx - 4 * s},{cy + 5 * s}"
        return f'<polygon class="shape" points="{points}" fill="{colour}" stroke="#FFFFFF" stroke-width="0.8"/>'
    if symbol == "tick":
        return (
            f'<line class="shape" x1="{cx}" y1="{cy - 5 * s}" x2="{cx}" y2="{cy + 5 * s}" stroke="{colour}" '
            f'stroke-width="2.2"/>'
        )
    if symbol == "circle":
        return (
            f'<circle class="shape" cx="{cx}" cy="{cy}" r="{3.6 * s}" fill="{colour}" stroke="#FFFFFF" '
            'stroke-width="0.8"/>'
        )
    if symbol == "diamond":
        points = f"{cx},{cy - 5 * s} {cx + 5 * s},{cy} {cx},{cy + 5 * s} {cx - 5 * s},{cy}"
        return f'<polygon class="shape" points="{points}" fill="{colour}" stroke="#FFFFFF" stroke-width="0.8"/>'
    # cross
    left, right, top, bottom = cx - 5 * s, cx + 5 * s, cy - 5 * s, cy + 5 * s
    d = f"M {left} {top} L {right} {bottom} M {left} {bottom} L {right} {top}"
    return (
        f'<g class="shape"><path d="{d}" stroke="#FFFFFF" stroke-width="5.2" stroke-linecap="round"/>'
        f'<path d="{d}" stroke="{colour}" stroke-width="3.2" stroke-linecap="round"/></g>'
    )


def _ticks(start: float, end: float, target: int = 8) -> list[float]:
    """Round tick values from `start` (at most 0) to `end` or just past them (steps of 1, 2, 2.5 or 5 times a power
    of ten), at least two."""
    raw = (end - start) / target
    power = 10 ** math.floor(math.log10(raw))
    step = next(factor * power for factor in (1, 2, 2.5, 5, 10) if factor * power >= raw)
    first = math.floor(start / step + 1e-9)
    last = max(math.ceil(end / step - 1e-9), first + 1)
    return [round(index * step, 10) for index in range(first, last + 1)]


def _tick_label(value: float) -> str:
    return f"{value:g}"


# -------------------------------------------------------------------------------------------------------- legend


def _legend() -> str:
    items = []
    for outcome in OUTCOMES:
        style = OUTCOME_STYLES[outcome]
        fill = "url(#legend-hatch)" if style.hatched else style.fill
        defs = (
            '<defs><pattern id="legend-hatch" width="5" height="5" patternUnits="userSpaceOnUse" '
            f'patternTransform="rotate(45)"><rect width="5" height="5" fill="{style.fill}"/>'
            f'<line x1="0" y1="0" x2="0" y2="5" stroke="{style.edge}" stroke-width="1.2"/></pattern></defs>'
            if style.hatched
            else ""
        )
        items.append(
            f'<span><svg width="26" height="14" viewBox="0 0 26 14">{defs}<rect x="1" y="1" width="24" height="12" '
            f'fill="{fill}" stroke="{style.edge}" stroke-width="1.3"/></svg>{_text(style.label)}</span>'
        )
    for kind in ("delivery_acknowledgement", "heartbeat", "log_record", "monitor_message", "exception"):
        style = MARKER_STYLES[kind]
        items.append(
            f'<span><svg width="14" height="14" viewBox="0 0 14 14">{_shape(style.symbol, style.colour, 7, 7)}</svg>'
            f"{_text(style.label)}</span>"
        )
    items.append(
        f'<span><svg width="14" height="14" viewBox="0 0 14 14"><line x1="7" y1="3" x2="7" y2="14" '
        f'stroke="{CONNECTOR}"/><circle cx="7" cy="3" r="2.5" fill="{CONNECTOR}"/></svg>asked a child</span>'
    )
    return f'<div class="legend">{"".join(items)}</div>'


# --------------------------------------------------------------------------------------------------------- table


def _table(timeline: Timeline) -> str:
    rows = [
        "<table>",
        "<thead><tr><th>service</th><th>question</th><th>asked by</th><th>asked (s)</th><th>answered (s)</th>"
        "<th>took</th><th>outcome</th><th>answer</th><th>events</th></tr></thead>",
        "<tbody>",
    ]
    for question in timeline.questions:
        style = OUTCOME_STYLES[question.outcome]
        answered = "" if question.end is None else f"{question.end:.3f}"
        took = "" if question.duration is None else format_seconds(question.duration)
        rows.append(
            f'<tr data-question-uuid="{_attribute(question.question_uuid)}">'
            f'<td style="padding-left: {10 + 18 * question.depth}px" title="{_attribute(question.service)}">'
            f"{_text(question.service_name)}</td>"
            f'<td class="uuid">{_text(question.question_uuid)}</td>'
            f"<td>{_text(question.asker or '')}</td>"
            f'<td class="number">{question.start:.3f}</td><td class="number">{answered}</td>'
            f'<td class="number">{took}</td>'
            f'<td><span class="outcome" style="border-color: {style.edge}; background: {style.fill}">'
            f"{_text(style.label)}</span></td>"
            f"<td><pre>{_text(question.answer_text)}</pre></td>"
            f"<td>{_events(question)}</td></tr>"
        )
    rows.extend(["</tbody>", "</table>"])
    return "\n".join(rows)


def _events(question: TimelineQuestion) -> str:
    if not question.markers:
        return ""
    lines = "".join(
        f'<tr><td class="number">{marker.seconds:.3f}</td><td>{_text(MARKER_STYLES[marker.kind].label)}</td>'
        f"<td><pre>{_text(marker.text) if marker.kind not in ('heartbeat', 'delivery_acknowledgement') else ''}"
        "</pre></td></tr>"
        for marker in question.markers
    )
    return (
        f"<details><summary>{len(question.markers)} event{'s' if len(question.markers) != 1 else ''}</summary>"
        f"<table><tbody>{lines}</tbody></table></details>"
    )


# ------------------------------------------------------------------------------------------------------ escaping


def _text(value: str) -> str:
    """Text content, escaped for HTML and XML alike."""
    return html.escape(_xml_characters(value), quote=False)


def _attribute(value: str) -> str:
    return html.escape(_xml_characters(value), quote=True)


def _xml_characters(value: str) -> str:
    """`value` without the control characters XML forbids (a log message may hold any)."""
    return "".join(character for character in _chars(value))


def _chars(value: str) -> Iterator[str]:
    for character in value:
        code = ord(character)
        if code >= 0x20 and not (0xD800 <= code <= 0xDFFF) and code not in (0xFFFE, 0xFFFF) or character in "\t\n\r":
            yield character


def _script_json(data: dict) -> str:
    """JSON safe inside a `<script>` element and in XML (`<`, `>` and `&` as Unicode escapes)."""
    text = json.dumps(data, ensure_ascii=False, indent=1)
    return _xml_characters(text).replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
