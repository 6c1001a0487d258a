"""Asking services questions over Pub/Sub.

- `ask(service_id, input_values, ...)` -> `(answer, question_uuid)`;
- `ask_multiple(questions, ...)` -> `[(answer, question_uuid), ...]` in question order;
- `Child(id, ...)` with `ask` and `ask_multiple`;
- `get_answer(question_uuid)` / `get_events(question_uuid)` / `forget(question_uuid)` for asynchronous questions;
- `registry.resolve_service_id`: a service ID without a revision tag resolved through service registries.

One answer subscription per asking process is shared by all its questions (`answers.AnswerListener`). The live
objects of a process's asking (publishers, listeners, asynchronous questions) are held by one `AskingSession`
(`session.default_session()`, replaceable with `session.use_session`).
"""

from octue_beam.asking.asking import ask
from octue_beam.asking.asynchronous import forget, get_answer, get_events
from octue_beam.asking.child import Child
from octue_beam.asking.multiple import ask_multiple
from octue_beam.asking.preparing import default_parent_sruid, resolve_project

__all__ = [
    "Child",
    "ask",
    "ask_multiple",
    "default_parent_sruid",
    "forget",
    "get_answer",
    "get_events",
    "resolve_project",
]
