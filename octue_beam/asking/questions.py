"""A question being asked: what is sent, the state of its current attempt, and how its events are handled.

All of a question's events are handled by `Question.handle`, called by the thread waiting for the answer (the
thread that called `ask`), never by the Pub/Sub callback thread: forwarded log records are re-emitted, and
monitor messages handled, in the asker's context (so a service asking a child from inside its app forwards
them to its own parent).

The watchdog of an attempt: until the child's first event (normally its delivery acknowledgement) arrives the
question may wait `delivery_acknowledgement_timeout` seconds (a service may be starting: a Dataflow job or a
Cloud Run container scaling from zero); after it, `maximum_heartbeat_interval` seconds of silence fail the
attempt. `timeout` bounds the whole attempt.
"""

import dataclasses
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from octue_beam import serialisation
from octue_beam.asking.logs import emit_log_record
from octue_beam.asking.remote_errors import remote_exception
from octue_beam.exceptions import QuestionTimeout
from octue_beam.messaging.attributes import SAVE_DIAGNOSTICS_ON_CRASH
from octue_beam.messaging.timeouts import DEFAULT_ASK_TIMEOUT
from octue_beam.resources import Manifest

logger = logging.getLogger(__name__)

# A parent waits for the default time limit of a service's question plus a margin, not Octue's 86,400 s: by default
# it hears the QuestionTimeLimitExceeded exception of a stuck question instead of waiting a day.
DEFAULT_TIMEOUT = DEFAULT_ASK_TIMEOUT
DEFAULT_MAXIMUM_HEARTBEAT_INTERVAL = 360
DEFAULT_DELIVERY_ACKNOWLEDGEMENT_TIMEOUT = 3600


@dataclasses.dataclass
class RetryPolicy:
    """What to do when an attempt fails: retry up to `max_retries` times (same question UUID, `retry_count` + 1)
    unless the error is an instance of one of `prevent_retries_when`; then raise the error, or return it in place of
    the answer when `raise_errors` is False (logging it when `log_errors`)."""

    max_retries: int = 0
    prevent_retries_when: tuple[type, ...] = ()
    raise_errors: bool = True
    log_errors: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.max_retries, int) or self.max_retries < 0:
            raise ValueError(f"max_retries must be a whole number >= 0, not {self.max_retries!r}.")
        self.prevent_retries_when = tuple(self.prevent_retries_when or ())
        for cls in self.prevent_retries_when:
            if not (isinstance(cls, type) and issubclass(cls, BaseException)):
                raise TypeError(f"prevent_retries_when must hold exception types, not {cls!r}.")


@dataclasses.dataclass(frozen=True)
class AskOptions:
    """The keyword options of `octue_beam.ask` (see its docstring for each), as one value.

    `ask`, `prepare_question`, `Child.ask` and `ask_multiple` keep their keyword arguments (their signatures are the
    public API) and turn them into one `AskOptions` at once; everything below them takes this value.
    """

    children: list[dict] | None = None
    timeout: float | None = DEFAULT_TIMEOUT
    maximum_heartbeat_interval: float | None = DEFAULT_MAXIMUM_HEARTBEAT_INTERVAL
    delivery_acknowledgement_timeout: float | None = DEFAULT_DELIVERY_ACKNOWLEDGEMENT_TIMEOUT
    asynchronous: bool = False
    question_uuid: str | None = None
    handle_monitor_message: Callable[[Any], None] | None = None
    subscribe_to_logs: bool = True
    save_diagnostics: str = SAVE_DIAGNOSTICS_ON_CRASH
    max_retries: int = 0
    prevent_retries_when: Sequence[type[BaseException]] | None = None
    raise_errors: bool = True
    log_errors: bool = True
    retry_count: int = 0
    parent_sruid: str | None = None
    parent_question_uuid: str | None = None
    originator_question_uuid: str | None = None
    originator: str | None = None
    project: str | None = None
    service_registries: list[dict] | None = None
    record_events: list | None = None
    allow_local_files: bool = False
    use_signed_urls: bool = False
    cpus: int | None = None
    memory: str | None = None
    ephemeral_storage: str | None = None
    topic_name: str | None = None

    @classmethod
    def from_arguments(cls, arguments: Mapping[str, Any]) -> "AskOptions":
        """The options found among `arguments` (a function's `locals()`); other names are left out."""
        names = [field.name for field in dataclasses.fields(cls)]
        return cls(**{name: arguments[name] for name in names if name in arguments})

    def retry_policy(self) -> "RetryPolicy":
        return RetryPolicy(self.max_retries, tuple(self.prevent_retries_when or ()), self.raise_errors, self.log_errors)


@dataclasses.dataclass(eq=False)
class Question:
    """One question (all its attempts). `attributes` are the typed wire attributes of the current attempt;
    `emulator_host` is the Pub/Sub emulator it is asked on ("" for the real Pub/Sub)."""

    service_id: str
    project: str
    topic_name: str | None
    parent_sruid: str
    event: dict
    attributes: dict
    timeout: float | None = DEFAULT_TIMEOUT
    maximum_heartbeat_interval: float | None = DEFAULT_MAXIMUM_HEARTBEAT_INTERVAL
    delivery_acknowledgement_timeout: float | None = DEFAULT_DELIVERY_ACKNOWLEDGEMENT_TIMEOUT
    emulator_host: str = ""
    handle_monitor_message: Callable[[Any], None] | None = None
    record_events: list | None = None
    policy: RetryPolicy = dataclasses.field(default_factory=RetryPolicy)
    received_events: list = dataclasses.field(default_factory=list)
    # State of the current attempt
    sent_at: float = 0.0
    acknowledged_at: float | None = None
    last_event_at: float = 0.0
    last_kind: str | None = None
    seen: set = dataclasses.field(default_factory=set)
    delivery_checked: bool = False  # whether the asker checked that a subscription delivers this attempt
    # Outcome
    done: bool = False
    answer: dict | None = None
    error: BaseException | None = None

    @property
    def question_uuid(self) -> str:
        return self.attributes["question_uuid"]

    @property
    def retry_count(self) -> int:
        return self.attributes["retry_count"]

    def started(self, now: float | None = None) -> None:
        """Reset the watchdog: the current attempt was just sent."""
        self.sent_at = self.last_event_at = time.monotonic() if now is None else now
        self.acknowledged_at = None
        self.last_kind = None
        self.delivery_checked = False

    def deadline(self) -> float:
        """Monotonic time at which the current attempt fails unless an event arrives."""
        overall = self.sent_at + _seconds(self.timeout)
        if self.acknowledged_at is None:
            return min(overall, self.sent_at + _seconds(self.delivery_acknowledgement_timeout))
        return min(overall, self.last_event_at + _seconds(self.maximum_heartbeat_interval))

    def delivery_check_at(self, after: float) -> float:
        """When the asker should check that some subscription delivers the current attempt (`asking.delivery`):
        `after` seconds after it was sent, or at its deadline if that comes first; never once any event of the
        attempt arrived or the check was made."""
        if self.acknowledged_at is not None or self.delivery_checked:
            return math.inf
        return min(self.sent_at + after, self.deadline())

    def overdue(self, now: float) -> QuestionTimeout | None:
        """The timeout error if the current attempt is overdue at `now`, else None."""
        if now < self.deadline():
            return None
        attempt = f" (attempt {self.retry_count + 1})" if self.retry_count else ""
        if now >= self.sent_at + _seconds(self.timeout):
            return QuestionTimeout(
                f"No answer to question {self.question_uuid}{attempt} from {self.service_id} within the timeout of "
                f"{self.timeout:g} s (last event received: {self.last_kind or 'none'})."
            )
        if self.acknowledged_at is None:
            return QuestionTimeout(
                f"{self.service_id} did not acknowledge question {self.question_uuid}{attempt} within "
                f"{self.delivery_acknowledgement_timeout:g} s (delivery_acknowledgement_timeout): it is not running "
                f"in project {self.project!r} (or not reading the services topic), or it is still starting."
            )
        return QuestionTimeout(
            f"{self.service_id} sent nothing about question {self.question_uuid}{attempt} for "
            f"{self.maximum_heartbeat_interval:g} s since its last event ({self.last_kind}) "
            f"(maximum_heartbeat_interval): it may have crashed or stopped."
        )

    def handle(self, event: dict, attributes: dict, data: bytes, arrived: float) -> BaseException | None:
        """Handle one event of this question; set `answer`/`done` on a result; return the error of an `exception`."""
        event_uuid = attributes.get("uuid")
        if event_uuid in self.seen:
            return None
        if attributes.get("retry_count", 0) != self.retry_count:
            logger.debug(
                "Ignored a late %r event of attempt %s of question %s.",
                event.get("kind"), attributes.get("retry_count"), self.question_uuid,
            )
            return None
        self.seen.add(event_uuid)
        self.last_event_at = max(self.last_event_at, arrived)
        if self.acknowledged_at is None:
            self.acknowledged_at = arrived  # any event of this attempt proves the child has the question
        kind = self.last_kind = event["kind"]
        recorded = {"event": event, "attributes": attributes}
        self.received_events.append(recorded)
        if self.record_events is not None:
            self.record_events.append(recorded)
        if kind == "result":
            self.answer = _answer(data)
            self.done = True
        elif kind == "exception":
            return remote_exception(event, attributes)
        elif kind == "log_record":
            _safely(emit_log_record, event["log_record"], attributes)
        elif kind == "monitor_message":
            if self.handle_monitor_message is not None:
                _safely(self.handle_monitor_message, event["data"])
        elif kind == "delivery_acknowledgement":
            logger.info("%s received question %s.", attributes["sender"], self.question_uuid)
        elif kind == "heartbeat":
            logger.debug("Heartbeat from %s for question %s.", attributes["sender"], self.question_uuid)
        else:
            logger.debug("Ignored a %r event for question %s.", kind, self.question_uuid)
        return None

    def may_retry(self, error: BaseException) -> bool:
        if self.retry_count - self.first_retry_count >= self.policy.max_retries:
            return False
        if isinstance(error, self.policy.prevent_retries_when):
            logger.info(
                "Not retrying question %s: %s errors are not retried.", self.question_uuid, type(error).__name__
            )
            return False
        return True

    def __post_init__(self) -> None:
        self.first_retry_count = self.attributes.get("retry_count", 0)

    def next_attempt(self) -> None:
        """Prepare the next attempt: same question UUID, `retry_count` + 1, fresh watchdog and seen events."""
        self.attributes = {**self.attributes, "retry_count": self.retry_count + 1}
        self.seen = set()

    def fail(self, error: BaseException) -> None:
        self.error = error
        self.done = True
        if self.policy.log_errors and not self.policy.raise_errors:
            tries = self.retry_count - self.first_retry_count + 1
            logger.error(
                "Question %s to %s failed after %d attempt%s: %s: %s",
                self.question_uuid, self.service_id, tries, "" if tries == 1 else "s", type(error).__name__,
                str(error).split("\n", 1)[0],
            )

    def outcome(self) -> tuple[Any, str]:
        """`(answer, question_uuid)`, or `(error, question_uuid)` when it failed and errors are returned; raises the
        error when it failed and errors are raised."""
        if self.error is not None:
            if self.policy.raise_errors:
                raise self.error
            return self.error, self.question_uuid
        return self.answer, self.question_uuid


def _seconds(value: float | None) -> float:
    return math.inf if value is None else value


def _safely(function: Callable, *args: Any) -> None:
    """Call a handler; its errors are logged, never allowed to stop waiting for answers."""
    try:
        function(*args)
    except Exception:
        logger.exception("%r failed while handling an event; carrying on waiting for the answer.", function)


def _answer(data: bytes) -> dict[str, Any]:
    """The answer of a `result` event, with tagged sets/datetimes decoded and the manifest deserialised."""
    result = serialisation.loads(data)
    manifest = result.get("output_manifest")
    if manifest is not None:
        primitive = serialisation.loads(data, decode_types=False).get("output_manifest")
        manifest = None if primitive is None else Manifest.deserialise(primitive)
    return {"output_values": result.get("output_values"), "output_manifest": manifest}
