"""A question row as the answering core's `Question`, checked as a question arriving over Pub/Sub is.

The row's inputs become the `question` event a parent would publish (serialised and read back, so the app gets
the same plain JSON types), checked with the wire protocol's rules for a question event: the size limit
(`--max_message_bytes`), the nesting limit, the schema's `question` definition (`schemas/service_communication.json`)
and the children's IDs. A row the streaming service would reject is a failed row with the reason. The attributes
are those of an originator question from `BATCH_SENDER` to the service, made here and valid by construction (the
row's UUID was checked when it was read), so they are not validated again: that is four fifths of the cost of the
whole wire check, which would otherwise cost a batch as much time as answering a simple question. What passes is
answered by the core with the service's own validation (the twine) and diagnostics. Logs are not forwarded (no
parent listens); the app's log records go to the worker's log.
"""

import functools
import json
from typing import Any

from jsonschema.exceptions import best_match

from octue_beam import __version__, serialisation
from octue_beam.answering.values import Question
from octue_beam.batch.rows import QuestionRow
from octue_beam.exceptions import InvalidEvent
from octue_beam.messaging import events
from octue_beam.messaging.attributes import decode_attributes, encode_attributes, question_attributes
from octue_beam.messaging.parsing import SCHEMA_NAME, check_children, check_nesting, definition_validator
from octue_beam.schemas import load_schema

#: The sender of batch questions (the `parent` and `originator` of their answers' attributes).
BATCH_SENDER = "local/batch:local"


#: The keywords of a definition `is_plainly_valid` understands; a definition with any other keyword is always
#: checked by the validator.
_PLAIN_KEYWORDS = {"type", "properties", "required", "additionalProperties", "description", "title"}


@functools.cache
def _plain_question() -> tuple[frozenset[str], frozenset[str]] | None:
    """The question definition's required properties and those it allows any value of (`{}`: `input_values`), or
    None when the definition is not a plain object schema that `is_plainly_valid` can read."""
    definition = load_schema(SCHEMA_NAME)["$defs"]["question"]
    properties = definition.get("properties", {})
    if set(definition) - _PLAIN_KEYWORDS or definition.get("type") != "object" or properties.get("kind") != {
        "const": "question"
    }:
        return None
    unconstrained = frozenset(name for name, schema in properties.items() if schema in ({}, True))
    return frozenset(definition.get("required", ())), unconstrained


def is_plainly_valid(event: dict[str, Any]) -> bool:
    """Whether the schema accepts `event` by its own terms without running the validator (a third of the cost of
    checking a question row): its kind is `question`, it has every required property, and all the others are
    properties the schema allows any value of. False means only "run the validator"."""
    plain = _plain_question()
    if plain is None or event.get("kind") != "question":
        return False
    required, unconstrained = plain
    return required.issubset(event) and all(name == "kind" or name in unconstrained for name in event)


def to_question(row: QuestionRow, sruid: str, max_message_bytes: int) -> Question | QuestionRow:
    """The `Question` of a row for the service `sruid`, or the row failed with the reason it is not one."""
    if row.error is not None:
        return row
    try:
        event = question_event(row, max_message_bytes)
    except InvalidEvent as error:
        return row.failed(InvalidEvent(f"The question of {row.where} is invalid: {error}"))
    attributes = question_attributes(
        sender=BATCH_SENDER,
        recipient=sruid,
        sender_sdk_version=__version__,
        question_uuid=row.question_uuid,
        forward_logs=False,
    )
    return Question(event, decode_attributes(encode_attributes(attributes)))


def question_event(row: QuestionRow, max_message_bytes: int) -> dict[str, Any]:
    """The row's `question` event as a service reads it off the wire; InvalidEvent saying what is wrong."""
    try:
        data = serialisation.dumps(events.question(row.input_values, row.input_manifest, row.children))
    except (TypeError, ValueError) as error:  # values JSON cannot hold
        raise InvalidEvent(f"its inputs cannot be serialised: {error}") from None
    size = len(data.encode())
    if size > max_message_bytes:
        raise InvalidEvent(
            f"the question is {size} bytes, more than the limit of {max_message_bytes} bytes (--max_message_bytes)."
        )
    event = json.loads(data)
    check_nesting(event)
    if is_plainly_valid(event):
        return event
    error = best_match(definition_validator("question").iter_errors(event))
    if error is not None:
        while error.context:  # anyOf/oneOf: the closest alternative's problem
            error = best_match(error.context)
        where = "$" + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path)
        raise InvalidEvent(f"the question event is invalid at {where}: {error.message}")
    check_children(event.get("children"))
    return event
