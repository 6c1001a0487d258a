"""Asking services questions over Pub/Sub: `ask(service_id, input_values, ...)` -> `(answer, question_uuid)`.

One answer subscription per asking process is shared by all its questions (`answers.AnswerListener`).
"""

from octue_beam.asking.asking import ask, default_parent_sruid, resolve_project

__all__ = ["ask", "default_parent_sruid", "resolve_project"]
