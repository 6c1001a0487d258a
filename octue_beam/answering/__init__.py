"""The transport-free answering core: a parsed question and an event sink in, every event of its answer out.

    message --check_message--> Question | Rejection | None (not for us)
    Question --Answerer.answer--> delivery_acknowledgement, heartbeats, log_records, monitor_messages,
                                  then exactly one result or exception (PendingAnswer.wait() -> Answer)
    Rejection --Answerer.reject--> an exception to the sender, when known; DeadLetter.from_rejection for keeping

Transports (the Beam pipeline in `octue_beam.pipeline`, and later a Cloud Run push handler and batch questions)
are thin adapters: they turn what they receive into these values and give the core a `Publisher`.
"""

from octue_beam.answering.checking import addressed_to, check_message, message_parts
from octue_beam.answering.core import Answerer, PendingAnswer
from octue_beam.answering.runner import QuestionRunner
from octue_beam.answering.seen import SeenSet
from octue_beam.answering.values import Answer, DeadLetter, Question, Rejection

__all__ = [
    "Answer",
    "Answerer",
    "DeadLetter",
    "PendingAnswer",
    "Question",
    "QuestionRunner",
    "Rejection",
    "SeenSet",
    "addressed_to",
    "check_message",
    "message_parts",
]
