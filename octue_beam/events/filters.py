"""Which events to read from a store: the selectors and filters of `read_events`, checked once for both stores.

Every filter given must hold (they are ANDed): a question (`question_uuid`), the questions a question's app asked
(`parent_question_uuid`), a whole tree (`originator_question_uuid`), the event kinds to keep (`kinds`) or to drop
(`exclude_kinds`, not both), events at or after `since`. `limit` keeps the newest (`tail=True`) or the oldest
(`tail=False`) that many; the rows are always returned oldest first.
"""

import dataclasses
import datetime
from collections.abc import Iterable
from typing import Any

from octue_beam.messaging.attributes import is_uuid
from octue_beam.messaging.events import KINDS


@dataclasses.dataclass(frozen=True)
class EventFilter:
    """The checked filters of one read (build it with `EventFilter.of`)."""

    question_uuid: str | None = None
    parent_question_uuid: str | None = None
    originator_question_uuid: str | None = None
    kinds: tuple[str, ...] | None = None
    exclude_kinds: tuple[str, ...] | None = None
    since: datetime.datetime | None = None
    limit: int | None = None
    tail: bool = True

    @classmethod
    def of(
        cls,
        *,
        question_uuid: str | None = None,
        parent_question_uuid: str | None = None,
        originator_question_uuid: str | None = None,
        kinds: Iterable[str] | None = None,
        exclude_kinds: Iterable[str] | None = None,
        since: Any = None,
        limit: int | None = None,
        tail: bool = True,
    ) -> "EventFilter":
        """The filters, checked: a ValueError names the first one that is wrong."""
        for name, value in (
            ("question_uuid", question_uuid),
            ("parent_question_uuid", parent_question_uuid),
            ("originator_question_uuid", originator_question_uuid),
        ):
            if value is not None and not is_uuid(value):
                raise ValueError(f"{name} must be a UUID (8-4-4-4-12 hexadecimal digits), not {value!r}.")
        kinds = _kinds(kinds, "kinds")
        exclude_kinds = _kinds(exclude_kinds, "exclude_kinds")
        if kinds is not None and exclude_kinds is not None:
            raise ValueError("Give kinds or exclude_kinds, not both.")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise ValueError(f"limit must be a whole number of at least 1 (or None for no limit), not {limit!r}.")
        return cls(
            question_uuid=question_uuid,
            parent_question_uuid=parent_question_uuid,
            originator_question_uuid=originator_question_uuid,
            kinds=kinds,
            exclude_kinds=exclude_kinds,
            since=parse_since(since),
            limit=limit,
            tail=bool(tail),
        )

    @property
    def selectors(self) -> dict[str, str]:
        """The UUID columns to match, `{column: uuid}`."""
        names = ("question_uuid", "parent_question_uuid", "originator_question_uuid")
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}


def parse_since(value: Any) -> datetime.datetime | None:
    """`since` as an aware UTC datetime: a datetime (naive ones are UTC), a date (its midnight, UTC) or an ISO 8601
    string of either."""
    if value is None or isinstance(value, datetime.datetime):
        moment = value
    elif isinstance(value, datetime.date):
        moment = datetime.datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            moment = datetime.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(
                f"since must be a date or time in ISO 8601 form (2025-03-04 or 2025-03-04T09:30:00), not {value!r}."
            ) from None
    else:
        raise ValueError(f"since must be a date, a datetime or an ISO 8601 string, not {type(value).__name__}.")
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone(datetime.timezone.utc)


def _kinds(values: Iterable[str] | None, name: str) -> tuple[str, ...] | None:
    if values is None:
        return None
    if isinstance(values, str):
        values = [values]
    chosen = tuple(dict.fromkeys(values))
    unknown = [kind for kind in chosen if kind not in KINDS]
    if unknown:
        raise ValueError(
            f"{name} has unknown event kind(s) {', '.join(map(repr, unknown))}; known: {', '.join(KINDS)}."
        )
    if not chosen:
        raise ValueError(f"{name} is empty: give at least one kind (or leave it out).")
    return chosen
