"""The timeline of a question tree as a PNG picture, drawn with matplotlib (the optional `timeline` extra).

Two panels share the rows: on the left the tree (each question indented by its depth under its parent, named by
its service, revision tag and short question UUID), on the right the time axis (seconds since the originator's
question) with a bar per question from question to answer, coloured by outcome, the markers of its events, a line
from each parent's bar down to each child at the moment it was asked, and the duration (and exception type) after
each bar. The picture is 1,440 pixels wide (12 inches at 120 dpi) and 42 pixels high per question, plus 210 for
the title, legend and time axis (2,310 pixels for 50 questions).
"""

import os
from typing import Any

from octue_beam.events.timeline import (
    EXCEPTION,
    MARKER_KINDS,
    MARKER_STYLES,
    NO_ANSWER,
    OUTCOME_STYLES,
    OUTCOMES,
    Timeline,
    TimelineQuestion,
)

EXTRA = "timeline"

DPI = 120
WIDTH_PIXELS = 1440
ROW_PIXELS = 42  # per question
HEADER_PIXELS = 138  # title, subtitle and legend
FOOTER_PIXELS = 72  # the time axis and its label
MAX_QUESTIONS = 1000  # 42,210 pixels high: within matplotlib's limit of 65,536 a side
WIDTH = WIDTH_PIXELS / DPI  # inches, as matplotlib counts
ROW_HEIGHT = ROW_PIXELS / DPI
HEADER = HEADER_PIXELS / DPI
FOOTER = FOOTER_PIXELS / DPI
BAR_HEIGHT = 0.56  # of a row
LANE_OFFSET = 0.15  # of a row: how far the marker lanes are from the bar's middle
STRIPE = "#F3F4F6"
CONNECTOR = "#4D4D4D"
TEXT = "#1A1A1A"
MUTED = "#6B6B6B"

_SYMBOLS = {"triangle": ">", "tick": "|", "circle": "o", "diamond": "D", "cross": "X"}
_SIZES = {"triangle": 6.5, "tick": 7.0, "circle": 4.5, "diamond": 5.5, "cross": 10.0}


class MissingExtra(ImportError):
    """A picture needs an optional dependency that is not installed; the message says which extra installs it."""


def picture_size(question_count: int) -> tuple[int, int]:
    """The picture's (width, height) in pixels for a number of questions: a fixed width, a row per question (room
    for two at least)."""
    return WIDTH_PIXELS, HEADER_PIXELS + FOOTER_PIXELS + ROW_PIXELS * max(question_count, 2)


def require_matplotlib() -> None:
    """Raise `MissingExtra`, saying what to install, unless matplotlib can be imported."""
    try:
        import matplotlib  # noqa: F401 - only whether it imports
    except ImportError:
        raise MissingExtra(
            f"Drawing a timeline as a PNG needs matplotlib: pip install 'octue_beam[{EXTRA}]' (an .html timeline "
            f"needs nothing more)."
        ) from None


def draw_png(timeline: Timeline, path: str | os.PathLike) -> None:
    """Draw `timeline` to a PNG file at `path`. Raises `MissingExtra` when matplotlib is not installed, ValueError
    for a tree too big for one picture (`MAX_QUESTIONS`)."""
    if len(timeline.questions) > MAX_QUESTIONS:
        raise ValueError(
            f"The tree has {len(timeline.questions)} questions: a PNG shows at most {MAX_QUESTIONS} (one row each); "
            f"draw it as .html instead."
        )
    figure = _figure(timeline)
    figure.savefig(os.fspath(path), format="png", dpi=DPI, facecolor="white")


def _figure(timeline: Timeline) -> Any:
    # Imported here: matplotlib is an optional extra and slow to import; the Agg canvas draws without any GUI and
    # without touching pyplot's global backend.
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    questions = timeline.questions
    rows = max(len(questions), 2)
    width, height = (pixels / DPI for pixels in picture_size(len(questions)))
    figure = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(figure)

    label_width = _label_width(questions)
    left, right = 0.25, 0.35  # inches of margin
    gap = 0.15
    bottom = FOOTER / height
    rows_height = ROW_HEIGHT * rows / height
    tree_axes = figure.add_axes((left / width, bottom, label_width / width, rows_height))
    time_left = left + label_width + gap
    time_axes = figure.add_axes(
        ((time_left) / width, bottom, (width - time_left - right) / width, rows_height), sharey=tree_axes
    )
    tree_axes.set_ylim(rows - 0.5, -0.5)  # row 0 at the top

    low, high = timeline.time_range()
    span = high - low
    time_axes.set_xlim(low - span * 0.015, high + span * 0.2)  # room after the last bar for its duration
    tree_axes.set_xlim(0, label_width)

    for row in range(len(questions)):
        if row % 2 == 0:
            for axes in (tree_axes, time_axes):
                axes.axhspan(row - 0.5, row + 0.5, color=STRIPE, zorder=0, linewidth=0)

    _draw_tree(tree_axes, timeline)
    _draw_bars(time_axes, timeline)
    _draw_parent_links(time_axes, timeline)
    _draw_markers(time_axes, timeline)
    _draw_durations(time_axes, timeline)

    for axes in (tree_axes, time_axes):
        for side in ("top", "right", "left"):
            axes.spines[side].set_visible(False)
        axes.tick_params(axis="y", left=False, labelleft=False)
    tree_axes.spines["bottom"].set_visible(False)
    tree_axes.tick_params(axis="x", bottom=False, labelbottom=False)
    time_axes.spines["bottom"].set_color(MUTED)
    time_axes.tick_params(axis="x", colors=MUTED, labelsize=8, labelcolor=TEXT)
    time_axes.grid(axis="x", color="#D9D9D9", linewidth=0.6, zorder=0.5)
    time_axes.set_axisbelow(True)
    time_axes.set_xlabel(
        f"seconds since the originator's question ({timeline.start_time:%Y-%m-%d %H:%M:%S} UTC)",
        fontsize=8.5,
        color=MUTED,
    )

    top = 1 - 0.22 / height
    originator = timeline.originator
    figure.text(
        left / width, top, f"Question tree of {originator.service}", fontsize=12.5, fontweight="bold",
        color=TEXT, va="top",
    )
    figure.text(
        left / width, top - 0.3 / height,
        f"originator question {timeline.originator_question_uuid}  ·  {timeline.summary()}",
        fontsize=8.5, color=MUTED, va="top",
    )
    handles = [
        Patch(
            facecolor=OUTCOME_STYLES[outcome].fill, edgecolor=OUTCOME_STYLES[outcome].edge,
            hatch="////" if OUTCOME_STYLES[outcome].hatched else None, label=OUTCOME_STYLES[outcome].label,
        )
        for outcome in OUTCOMES
    ] + [
        Line2D(
            [], [], linestyle="none", label=MARKER_STYLES[kind].label, **_marker_properties(kind)
        )
        for kind in ("delivery_acknowledgement", "heartbeat", "log_record", "monitor_message", "exception")
    ] + [Line2D([], [], color=CONNECTOR, linewidth=0.9, marker="o", markersize=3, label="asked a child")]
    figure.legend(
        handles=handles, loc="upper left", bbox_to_anchor=(left / width, top - 0.55 / height), ncol=5,
        fontsize=8, frameon=False, handlelength=1.6, columnspacing=1.4, borderaxespad=0, borderpad=0,
    )
    return figure


def _label_width(questions: list[TimelineQuestion]) -> float:
    """Inches for the tree panel: enough for the deepest, longest label, within 2.2 to 4.6 inches."""
    needed = max(
        (0.3 + 0.22 * question.depth + 0.075 * max(len(question.service_name), 18) for question in questions),
        default=2.2,
    )
    return min(max(needed, 2.2), 4.6)


def _indent(depth: int) -> float:
    return 0.12 + 0.22 * depth


def _draw_tree(axes: Any, timeline: Timeline) -> None:
    """The labels, indented by depth, and elbow connectors from each parent's label to its children's."""
    for row, question in enumerate(timeline.questions):
        x = _indent(question.depth)
        axes.text(
            x, row - 0.08, question.service_name, fontsize=8.5, color=TEXT, va="baseline", ha="left",
            fontweight="bold" if question.depth == 0 else "normal", clip_on=True,
        )
        detail = f"{question.short_uuid}  {question.revision_tag}".rstrip()
        if question.retries:
            detail += f"  retry {question.retries}"
        axes.text(
            x, row + 0.3, detail, fontsize=6.5, color=MUTED, va="baseline", ha="left", family="monospace",
            clip_on=True,
        )
        for child_uuid in question.children:
            child = timeline.row_of(child_uuid)
            elbow = x + 0.05
            axes.plot(
                [elbow, elbow, _indent(question.depth + 1) - 0.04], [row + 0.38, child - 0.1, child - 0.1],
                color="#A6A6A6", linewidth=0.8, solid_capstyle="butt", zorder=1,
            )


def _draw_bars(axes: Any, timeline: Timeline) -> None:
    for row, question in enumerate(timeline.questions):
        style = OUTCOME_STYLES[question.outcome]
        left, right = timeline.bar(question)
        low, high = timeline.time_range()
        axes.barh(
            row, max(right - left, (high - low) * 0.002), left=left, height=BAR_HEIGHT,
            color=style.fill, edgecolor=style.edge, linewidth=1.1, hatch="////" if style.hatched else None,
            linestyle="--" if question.outcome == NO_ANSWER else "-", zorder=2,
        )


def _draw_parent_links(axes: Any, timeline: Timeline) -> None:
    """A line from the parent's bar down to each child's row, at the time the child was asked (behind the bars of
    the rows it crosses, with a dot on the parent's bar)."""
    for row, question in enumerate(timeline.questions):
        for child_uuid in question.children:
            child_row = timeline.row_of(child_uuid)
            child = timeline.questions[child_row]
            axes.plot(
                [child.start, child.start], [row + BAR_HEIGHT / 2, child_row - BAR_HEIGHT / 2],
                color=CONNECTOR, linewidth=0.8, alpha=0.75, zorder=1.5,
            )
            axes.plot([child.start], [row + BAR_HEIGHT / 2], marker="o", markersize=3, color=CONNECTOR, zorder=3)


def _marker_properties(kind: str) -> dict[str, Any]:
    style = MARKER_STYLES[kind]
    properties: dict[str, Any] = {
        "marker": _SYMBOLS[style.symbol], "markersize": _SIZES[style.symbol], "color": style.colour,
    }
    if style.symbol == "tick":
        properties["markeredgewidth"] = 1.6
    elif style.symbol == "cross":
        properties.update(markeredgecolor="white", markeredgewidth=0.8)
    else:
        properties.update(markeredgecolor="white", markeredgewidth=0.5)
    return properties


def _draw_markers(axes: Any, timeline: Timeline) -> None:
    """One series per marker kind (kinds later in MARKER_KINDS on top), each on its lane of the bar."""
    for order, kind in enumerate(MARKER_KINDS):
        lane = MARKER_STYLES[kind].lane * LANE_OFFSET
        xs, ys = [], []
        for row, question in enumerate(timeline.questions):
            for marker in question.markers_of(kind):
                xs.append(marker.seconds)
                ys.append(row + lane)
        if xs:
            axes.plot(xs, ys, linestyle="none", zorder=4 + order, **_marker_properties(kind))


def _draw_durations(axes: Any, timeline: Timeline) -> None:
    """After each bar: its duration, the exception type of a failure, or "no answer yet"."""
    for row, question in enumerate(timeline.questions):
        style = OUTCOME_STYLES[question.outcome]
        text, x = question.outcome_text(timeline.end), timeline.bar(question)[1]
        axes.annotate(
            text, (x, row), xytext=(8 if question.outcome == EXCEPTION else 4, 0), textcoords="offset points",
            fontsize=7.5, color=style.edge if question.outcome == EXCEPTION else TEXT, va="center", ha="left",
            zorder=10, annotation_clip=False,
        )
