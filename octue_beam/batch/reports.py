"""The report of a regression re-run (`regression.Comparison`s): a self-contained HTML page or a Markdown file, by
the report's name (`.html`/`.htm` or `.md`/`.markdown`), led by the summary line, then a row per question: its
status, the recorded and the new answer (shortened), and where they differ. Different questions come first."""

import html
import json
import os
from collections.abc import Sequence
from typing import Any

from octue_beam.batch.regression import DIFFERENT, NOT_RECORDED, SAME, Comparison

HTML = "html"
MARKDOWN = "markdown"
_FORMATS = {".html": HTML, ".htm": HTML, ".md": MARKDOWN, ".markdown": MARKDOWN}
_ORDER = {DIFFERENT: 0, NOT_RECORDED: 1, SAME: 2}
_COLOURS = {SAME: "#1b7837", DIFFERENT: "#b2182b", NOT_RECORDED: "#8c6d1f"}
_SHOWN_CHARACTERS = 300


def report_format(path: str) -> str:
    """`html` or `markdown`, from the report's name; ValueError naming the path otherwise."""
    kind = _FORMATS.get(os.path.splitext(path)[1].lower())
    if kind is None:
        raise ValueError(f"The report {path!r} must be an HTML (.html) or Markdown (.md) file.")
    return kind


def summary_line(comparisons: Sequence[Comparison], service: str, float_tolerance: float) -> str:
    """`12 recorded questions of a/b:c asked again: 10 same, 1 different, 1 with no recorded answer (...)`."""
    counts = {status: sum(each.status == status for each in comparisons) for status in (SAME, DIFFERENT, NOT_RECORDED)}
    return (
        f"{len(comparisons)} recorded questions asked again of {service}: {counts[SAME]} same, {counts[DIFFERENT]} "
        f"different, {counts[NOT_RECORDED]} with no recorded answer (numbers compared within {float_tolerance:g})."
    )


def write_report(path: str, comparisons: Sequence[Comparison], summary: str) -> None:
    """Write the report of `comparisons` to `path` (HTML or Markdown by its name), headed by `summary`."""
    ordered = sorted(comparisons, key=lambda each: (_ORDER[each.status], each.new.get("row", 0)))
    text = _html(ordered, summary) if report_format(path) == HTML else _markdown(ordered, summary)
    with open(path, "w", encoding="utf-8") as stream:
        stream.write(text)


def _recorded(comparison: Comparison) -> str:
    recorded = comparison.recorded
    if recorded is None:
        return "(none)"
    if recorded.get("kind") == "exception":
        return f"exception {recorded.get('exception_type')}: {recorded.get('exception_message')}"
    return "result " + _json({"output_values": recorded.get("output_values"),
                              "output_manifest": recorded.get("output_manifest")})


def _new(comparison: Comparison) -> str:
    new = comparison.new
    if new.get("exception"):
        return f"exception {new['exception'].get('type')}: {new['exception'].get('message')}"
    return "result " + _json({"output_values": new.get("output_values"), "output_manifest": new.get("output_manifest")})


def _json(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= _SHOWN_CHARACTERS else text[: _SHOWN_CHARACTERS - 3] + "..."


def _html(comparisons: Sequence[Comparison], summary: str) -> str:
    rows = []
    for each in comparisons:
        colour = _COLOURS[each.status]
        differences = "".join(f"<li><code>{html.escape(line)}</code></li>" for line in each.differences)
        rows.append(
            "<tr>"
            f"<td><code>{html.escape(each.question_uuid)}</code></td>"
            f'<td style="color:{colour};font-weight:bold">{html.escape(each.status)}</td>'
            f"<td><code>{html.escape(_recorded(each))}</code></td>"
            f"<td><code>{html.escape(_new(each))}</code></td>"
            f"<td><ul>{differences}</ul></td>"
            "</tr>"
        )
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Regression report</title>\n"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;width:100%}"
        "td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top;text-align:left}"
        "code{white-space:pre-wrap;word-break:break-word}ul{margin:0;padding-left:1.2em}</style>\n</head>\n<body>\n"
        f"<h1>Regression report</h1>\n<p id=\"summary\">{html.escape(summary)}</p>\n"
        "<table>\n<thead><tr><th>question</th><th>status</th><th>recorded answer</th><th>new answer</th>"
        "<th>differences</th></tr></thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>\n</body>\n</html>\n"
    )


def _markdown(comparisons: Sequence[Comparison], summary: str) -> str:
    lines = [
        "# Regression report",
        "",
        summary,
        "",
        "| question | status | recorded answer | new answer | differences |",
        "|---|---|---|---|---|",
    ]
    for each in comparisons:
        cells = [
            f"`{each.question_uuid}`",
            f"**{each.status}**" if each.status == DIFFERENT else each.status,
            _cell(_recorded(each)),
            _cell(_new(each)),
            "<br>".join(_cell(line) for line in each.differences),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    """Text for a Markdown table cell: pipes escaped, no line breaks, HTML-escaped (the cell may hold <br>)."""
    return html.escape(text.replace("\n", " "), quote=False).replace("|", "\\|")
