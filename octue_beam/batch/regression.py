"""Regression re-runs: recorded questions asked again of a new revision, and each new answer compared with the one
recorded for it.

The inputs are event-store rows (`octue_beam.events.store.read_events`: dicts with the columns of docs/protocol.md
"Event store row", `event` parsed back to the event with its `kind`). `recorded_questions` picks the questions asked
of the service (any revision: same namespace and name) as question rows for a batch; `recorded_answers` the final
event the service sent for each. `compare_answers` compares each new answer row with its recorded answer:

- a result with a result: `output_values` structurally (the same keys, the same list lengths, equal strings,
  booleans and nulls, numbers equal within `float_tolerance`, relative or absolute), and `output_manifest` by its
  dataset names (a manifest's ID and dataset locations are new on every run);
- an exception with an exception: the same type and message;
- a result with an exception (or the other way round): different.

A question with no recorded answer (still running when recorded, or its answer outside the filters) is reported as
such: it neither passes nor fails.
"""

import dataclasses
import math
from collections.abc import Iterable, Mapping
from typing import Any

from octue_beam.batch.rows import ANSWERED
from octue_beam.messaging import events
from octue_beam.messaging.sruid import split_service_id
from octue_beam.serialisation import to_json_compatible

SAME = "same"
DIFFERENT = "different"
NOT_RECORDED = "no recorded answer"
STATUSES = (SAME, DIFFERENT, NOT_RECORDED)

DEFAULT_FLOAT_TOLERANCE = 1e-9
#: Differences listed per question at most (the count of the rest is given).
MAX_DIFFERENCES = 20


@dataclasses.dataclass(frozen=True)
class Comparison:
    """A new answer row and the answer recorded for its question (None when none was): same, different or not
    recorded, with the differences found (`$.output_values.x: recorded 1.5, now 1.6`)."""

    question_uuid: str
    status: str
    recorded: Mapping[str, Any] | None
    new: Mapping[str, Any]
    differences: tuple[str, ...] = ()


def recorded_questions(rows: Iterable[Mapping[str, Any]], service_id: str) -> list[dict[str, Any]]:
    """Question rows (`question_uuid`, `input_values`, `input_manifest`, `children`) of the recorded questions asked
    of the service `service_id` (any revision), one per question UUID (its first record), oldest first."""
    questions: dict[str, dict[str, Any]] = {}
    for row in rows:
        event = row.get("event") or {}
        if event.get("kind") != events.QUESTION or not _same_service(row.get("recipient"), service_id):
            continue
        question_uuid = row.get("question_uuid")
        if question_uuid and question_uuid not in questions:
            questions[question_uuid] = {
                "question_uuid": question_uuid,
                **{name: event[name] for name in ("input_values", "input_manifest", "children") if name in event},
            }
    return list(questions.values())


def recorded_answers(rows: Iterable[Mapping[str, Any]], service_id: str) -> dict[str, dict[str, Any]]:
    """The final event (`result` or `exception`) the service `service_id` (any revision) sent for each question, by
    question UUID (the last recorded, for a question answered more than once, e.g. after a retry)."""
    answers: dict[str, dict[str, Any]] = {}
    for row in rows:
        event = row.get("event") or {}
        if event.get("kind") in events.FINAL_KINDS and _same_service(row.get("sender"), service_id):
            answers[row["question_uuid"]] = dict(event)
    return answers


def compare_answers(
    answer_rows: Iterable[Mapping[str, Any]],
    recorded: Mapping[str, Mapping[str, Any]],
    float_tolerance: float = DEFAULT_FLOAT_TOLERANCE,
) -> list[Comparison]:
    """A `Comparison` of each new answer row with the recorded answer of its question, in the rows' order."""
    return [compare_answer(row, recorded.get(row["question_uuid"]), float_tolerance) for row in answer_rows]


def compare_answer(
    new: Mapping[str, Any], recorded: Mapping[str, Any] | None, float_tolerance: float = DEFAULT_FLOAT_TOLERANCE
) -> Comparison:
    """Compare one new answer row with its recorded final event (None: not recorded)."""
    question_uuid = new["question_uuid"]
    if recorded is None:
        return Comparison(question_uuid, NOT_RECORDED, None, new)
    found: list[str] = []
    answered = new.get("status") == ANSWERED
    if recorded.get("kind") == events.RESULT and answered:
        found += differences(
            recorded.get("output_values"), new.get("output_values"), float_tolerance, "$.output_values"
        )
        found += _manifest_differences(recorded.get("output_manifest"), new.get("output_manifest"))
    elif recorded.get("kind") == events.EXCEPTION and not answered:
        exception = new.get("exception") or {}
        was = (recorded.get("exception_type"), recorded.get("exception_message"))
        now = (exception.get("type"), exception.get("message"))
        if was != now:
            found.append(f"$.exception: recorded {_error(*was)}, now {_error(*now)}")
    elif answered:
        found.append(
            f"recorded an exception ({_error(recorded.get('exception_type'), recorded.get('exception_message'))}), "
            "now a result"
        )
    else:
        exception = new.get("exception") or {}
        found.append(f"recorded a result, now an exception ({_error(exception.get('type'), exception.get('message'))})")
    if len(found) > MAX_DIFFERENCES:
        found = [*found[:MAX_DIFFERENCES], f"... and {len(found) - MAX_DIFFERENCES} more differences"]
    return Comparison(question_uuid, DIFFERENT if found else SAME, dict(recorded), new, tuple(found))


def differences(
    recorded: Any, new: Any, float_tolerance: float = DEFAULT_FLOAT_TOLERANCE, path: str = "$"
) -> list[str]:
    """Where two JSON values differ, as `path: recorded X, now Y` lines (empty when they are equal; numbers are equal
    within `float_tolerance`, relative or absolute). Python values are compared in their JSON form."""
    return _differences(to_json_compatible(recorded), to_json_compatible(new), float_tolerance, path)


def _differences(recorded: Any, new: Any, tolerance: float, path: str) -> list[str]:
    if _is_number(recorded) and _is_number(new):
        return [] if _numbers_equal(recorded, new, tolerance) else [f"{path}: recorded {recorded!r}, now {new!r}"]
    if isinstance(recorded, dict) and isinstance(new, dict):
        found = []
        for key in sorted(recorded.keys() | new.keys(), key=str):
            where = f"{path}.{key}"
            if key not in new:
                found.append(f"{where}: recorded {_short(recorded[key])}, now missing")
            elif key not in recorded:
                found.append(f"{where}: not recorded, now {_short(new[key])}")
            else:
                found += _differences(recorded[key], new[key], tolerance, where)
        return found
    if isinstance(recorded, list) and isinstance(new, list):
        found = []
        if len(recorded) != len(new):
            found.append(f"{path}: recorded {len(recorded)} items, now {len(new)}")
        for index, (was, now) in enumerate(zip(recorded, new, strict=False)):
            found += _differences(was, now, tolerance, f"{path}[{index}]")
        return found
    if type(recorded) is type(new) and recorded == new:
        return []
    return [f"{path}: recorded {_short(recorded)}, now {_short(new)}"]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _numbers_equal(recorded: float, new: float, tolerance: float) -> bool:
    if isinstance(recorded, int) and isinstance(new, int):
        return recorded == new
    if math.isnan(recorded) or math.isnan(new):
        return math.isnan(recorded) and math.isnan(new)
    return math.isclose(recorded, new, rel_tol=tolerance, abs_tol=tolerance)


def _manifest_differences(recorded: Any, new: Any) -> list[str]:
    was, now = _dataset_names(recorded), _dataset_names(new)
    if was == now:
        return []
    return [f"$.output_manifest: recorded {_datasets(was)}, now {_datasets(now)}"]


def _dataset_names(manifest: Any) -> tuple[str, ...] | None:
    if manifest is None:
        return None
    datasets = manifest.get("datasets") if isinstance(manifest, Mapping) else None
    return tuple(sorted(map(str, datasets or ())))


def _datasets(names: tuple[str, ...] | None) -> str:
    if names is None:
        return "no manifest"
    return f"datasets {', '.join(names)}" if names else "no datasets"


def _same_service(sruid: Any, service_id: str) -> bool:
    """Whether `sruid` is a revision of the service `service_id` (same namespace and name)."""
    try:
        return split_service_id(sruid)[:2] == split_service_id(service_id)[:2]
    except Exception:  # noqa: BLE001 - a malformed SRUID is some other service
        return False


def _error(kind: Any, message: Any) -> str:
    return f"{kind}: {_short(message, 200)}" if message else str(kind)


def _short(value: Any, limit: int = 120) -> str:
    shown = repr(value)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."
