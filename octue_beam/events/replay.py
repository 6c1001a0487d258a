"""`EventReplayer`: a recorded question played back as if it were being answered now (Octue's `EventReplayer`).

Its log records are re-emitted through Python logging with the service's prefix (as `ask` shows a child's forwarded
logs), its monitor messages go to `handle_monitor_message`, an `exception` event raises the service's exception
(re-created as `ask` re-creates it) and a `result` event is the answer, `{"output_values", "output_manifest"}`,
which `play` returns. With `speed`, it waits between events as long as they were apart when recorded, divided by
`speed` (at most `MAX_WAIT` seconds per gap).

`play(events)` takes event-store rows (`events.store.read_events`) or Octue's `{"event", "attributes"}` items
(`get_events`, `ask(..., record_events=...)`), oldest first. It plays one question: `question_uuid`, else the first
question asked among the events (a tree's originator question when given a whole tree), and of that question only
its last attempt (a retried question's earlier attempts are mentioned, not played).
"""

import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from octue_beam import serialisation
from octue_beam.asking.logs import emit_log_record
from octue_beam.asking.remote_errors import remote_exception
from octue_beam.events.rows import as_event, utc
from octue_beam.resources import Manifest

logger = logging.getLogger(__name__)

MAX_WAIT = 5.0


class EventReplayer:
    """Plays recorded events back (see the module docstring).

    :param handle_monitor_message: called with the data of each monitor message
    :param record_events: keep the events played in `received_events` (`{"event", "attributes"}`)
    :param only_handle_result: skip logs and monitor messages; only the outcome counts
    :param exclude_logs_containing: skip log records whose message contains this text
    :param speed: wait between events as recorded, this many times faster (None or 0: no waiting)
    :param sleep: how to wait (for tests)
    """

    def __init__(
        self,
        handle_monitor_message: Callable[[Any], None] | None = None,
        *,
        record_events: bool = True,
        only_handle_result: bool = False,
        exclude_logs_containing: str | None = None,
        speed: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if speed is not None and speed < 0:
            raise ValueError(f"speed must be positive (or 0 for no waiting), not {speed!r}.")
        self.handle_monitor_message = handle_monitor_message
        self.record_events = record_events
        self.only_handle_result = only_handle_result
        self.exclude_logs_containing = exclude_logs_containing
        self.speed = speed
        self.sleep = sleep
        self.received_events: list[dict] = []

    def play(self, events: Iterable[Mapping[str, Any]], question_uuid: str | None = None) -> dict | None:
        """Play a question's events; its answer, or None (with a warning) when they hold no result. Raises the
        question's exception when it ended with one."""
        items = [_as_event(item) for item in events]
        question_uuid = question_uuid or _first_question(items)
        mine = [item for item in items if item["attributes"].get("question_uuid") == question_uuid]
        if not mine:
            logger.warning("No events of question %s to replay.", question_uuid)
            return None
        attempt = max(_retry_count(item) for item in mine)
        _mention_earlier_attempts(mine, attempt, question_uuid)
        previous = None
        for item in mine:
            if _retry_count(item) != attempt:
                continue
            previous = self._wait(previous, item)
            if self.record_events:
                self.received_events.append(item)
            answer = self._handle(item["event"], item["attributes"])
            if answer is not None:
                return answer
        logger.warning("No result was found for question %s.", question_uuid)
        return None

    #: Octue's name for `play`.
    handle_events = play

    def _wait(self, previous: dict | None, item: dict) -> dict:
        if self.speed and previous is not None:
            gap = (_moment(item) - _moment(previous)).total_seconds() / self.speed
            if gap > 0:
                self.sleep(min(gap, MAX_WAIT))
        return item

    def _handle(self, event: Mapping[str, Any], attributes: Mapping[str, Any]) -> dict | None:
        kind = event.get("kind")
        question_uuid = attributes.get("question_uuid")
        if kind == "result":
            return _answer(event)
        if kind == "exception":
            raise remote_exception(event, attributes)
        if self.only_handle_result:
            return None
        if kind == "question":
            retry = attributes.get("retry_count") or 0
            logger.info(
                "%s asked %s question %s%s.", attributes.get("sender"), attributes.get("recipient"), question_uuid,
                f" (retry {retry})" if retry else "",
            )
        elif kind == "delivery_acknowledgement":
            logger.info("%s received question %s.", attributes.get("sender"), question_uuid)
        elif kind == "log_record":
            fields = event.get("log_record") or {}
            if not (self.exclude_logs_containing and self.exclude_logs_containing in str(fields.get("msg", ""))):
                emit_log_record(fields, {**attributes, "sender": attributes.get("sender", "?"),
                                         "question_uuid": question_uuid})
        elif kind == "monitor_message":
            if self.handle_monitor_message is not None:
                self.handle_monitor_message(event.get("data"))
        elif kind == "heartbeat":
            logger.debug("Heartbeat from %s for question %s.", attributes.get("sender"), question_uuid)
        else:
            logger.debug("Ignored a %r event of question %s.", kind, question_uuid)
        return None


def _as_event(item: Mapping[str, Any]) -> dict:
    """`{"event", "attributes"}` of an event-store row (it has a `kind` column) or of an event item."""
    if "kind" in item and "attributes" not in item:
        return as_event(item)
    event = item.get("event")
    if not isinstance(event, Mapping) or not isinstance(event.get("kind"), str):
        raise ValueError(f"Not an event to replay (no event with a kind): {dict(item)!r:.200}")
    return {"event": dict(event), "attributes": dict(item.get("attributes") or {})}


def _first_question(items: list[dict]) -> str | None:
    for item in items:
        if item["event"].get("kind") == "question":
            return item["attributes"].get("question_uuid")
    return items[0]["attributes"].get("question_uuid") if items else None


def _retry_count(item: dict) -> int:
    try:
        return int(item["attributes"].get("retry_count") or 0)
    except (TypeError, ValueError):
        return 0


def _moment(item: dict) -> Any:
    return utc(item["attributes"]["datetime"])


def _mention_earlier_attempts(items: list[dict], attempt: int, question_uuid: str) -> None:
    for earlier in range(attempt):
        endings = [
            item["event"]
            for item in items
            if _retry_count(item) == earlier and item["event"].get("kind") == "exception"
        ]
        ending = f"ended with {endings[0].get('exception_type')}" if endings else "got no answer in time"
        logger.info("Attempt %d of question %s %s and was retried.", earlier + 1, question_uuid, ending)


def _answer(event: Mapping[str, Any]) -> dict:
    """The answer of a `result` event, as `ask` returns it (tagged sets and datetimes decoded, the manifest a
    `Manifest`)."""
    text = json.dumps(event)
    values = serialisation.loads(text)
    primitive = serialisation.loads(text, decode_types=False).get("output_manifest")
    manifest = None if primitive is None else Manifest.deserialise(primitive)
    return {"output_values": values.get("output_values"), "output_manifest": manifest}
