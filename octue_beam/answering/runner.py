"""`QuestionRunner`: answering several questions at once on a bounded pool of threads.

A transport hands each question to `submit` and collects the `PendingAnswer`s later, so questions that arrive
together are answered together (the Beam DoFn waits for a bundle's questions in `finish_bundle`).
"""

from concurrent import futures

from octue_beam.answering.core import Answerer, PendingAnswer
from octue_beam.answering.values import Question

DEFAULT_MAX_CONCURRENT_QUESTIONS = 10


class QuestionRunner:
    """Runs `answerer.answer` for submitted questions, at most `max_concurrent_questions` at a time."""

    def __init__(self, answerer: Answerer, max_concurrent_questions: int = DEFAULT_MAX_CONCURRENT_QUESTIONS) -> None:
        self.answerer = answerer
        self._pool = futures.ThreadPoolExecutor(
            max_workers=max(1, max_concurrent_questions), thread_name_prefix="octue-beam-question"
        )

    def submit(self, question: Question) -> "futures.Future[PendingAnswer | None]":
        """Start answering the question; the future gives its PendingAnswer (None for a duplicate delivery)."""
        return self._pool.submit(self.answerer.answer, question)

    def close(self, wait: bool = False) -> None:
        """Take no more questions; with `wait`, wait for those running."""
        self._pool.shutdown(wait=wait)
