"""The transport-free answering core: a parsed question and an event sink in, every event of its answer out.

    message --check_message--> Question | Rejection | None (not for us)
    Question --Answerer.answer--> delivery_acknowledgement, heartbeats, log_records, monitor_messages,
                                  then exactly one result or exception (PendingAnswer.wait() -> Answer)
    Rejection --Answerer.reject--> an exception to the sender, when known; DeadLetter.from_rejection for keeping

Transports (the Beam pipeline in `octue_beam.pipeline`, and later a Cloud Run push handler and batch questions)
are thin adapters: they turn what they receive into these values and give the core a `Publisher`.
"""

from octue_beam.lazy import lazy_namespace

#: The package's names and their modules, imported when first used (PEP 562), so that importing one light module of
#: the package (`answering.journal`, which the local `run` supervisor reads) does not load the Pub/Sub client.
_NAMES = {
    "Answer": "octue_beam.answering.values",
    "Answerer": "octue_beam.answering.core",
    "DeadLetter": "octue_beam.answering.values",
    "PendingAnswer": "octue_beam.answering.core",
    "Question": "octue_beam.answering.values",
    "QuestionRunner": "octue_beam.answering.runner",
    "Rejection": "octue_beam.answering.values",
    "SeenSet": "octue_beam.answering.seen",
    "addressed_to": "octue_beam.answering.checking",
    "check_message": "octue_beam.answering.checking",
    "message_parts": "octue_beam.answering.checking",
}

__all__ = sorted(_NAMES)
__getattr__, __dir__ = lazy_namespace(__name__, _NAMES)
