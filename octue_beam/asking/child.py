"""`Child`: a service to ask, with defaults for every question (project, registries, parent SRUID, tree)."""

from collections.abc import Sequence
from typing import Any

from octue_beam.asking.asking import ask_with_options
from octue_beam.asking.multiple import ask_multiple
from octue_beam.asking.questions import AskOptions


class Child:
    """A child service, asked through Pub/Sub.

    :param id: the child's service ID (`namespace/name[:revision_tag]`); without a tag it is resolved through
        `service_registries` at each question
    :param backend: `{"name": "GCPPubSubBackend", "project_id": ...}` as in octue.yaml; `project_id` is the
        project to ask in (default: as `octue_beam.ask` resolves it)
    :param service_registries: `[{"name": ..., "endpoint": ...}]`, in priority order
    :param parent_sruid: the asker's SRUID (default: this process's random local one)
    :param tree: default `ask` keyword arguments for every question, e.g. `parent_question_uuid`,
        `originator_question_uuid` and `originator`, which a service sets for children asked from inside its app
    :param key: the child's key in the asking service's configuration (for messages)
    """

    def __init__(
        self,
        id: str,
        backend: dict | None = None,
        *,
        service_registries: list[dict] | None = None,
        parent_sruid: str | None = None,
        tree: dict | None = None,
        key: str | None = None,
    ) -> None:
        self.id = id
        self.backend = dict(backend or {"name": "GCPPubSubBackend"})
        self.service_registries = service_registries
        self.parent_sruid = parent_sruid
        self.tree = dict(tree or {})
        self.key = key
        self.received_events: list[dict] = []

    def _options(self, kwargs: dict) -> dict:
        options = {**self.tree, **kwargs}
        if self.parent_sruid is not None:
            options.setdefault("parent_sruid", self.parent_sruid)
        if self.service_registries is not None:
            options.setdefault("service_registries", self.service_registries)
        if self.backend.get("project_id"):
            options.setdefault("project", self.backend["project_id"])
        return options

    def ask(self, input_values: Any = None, input_manifest: Any = None, **kwargs: Any) -> tuple[Any, str]:
        """Ask the child a question: `(answer, question_uuid)`, with the parameters of `octue_beam.ask`.

        `received_events` holds the events of this question afterwards (as they arrive, when asked asynchronously).
        """
        self.received_events = events = []
        options = self._options(kwargs)
        user_record = options.pop("record_events", None)
        if isinstance(user_record, list):
            events = Tee(events, user_record)
        return ask_with_options(self.id, input_values, input_manifest, AskOptions(record_events=events, **options))

    def ask_multiple(
        self,
        *questions: dict,
        max_workers: int | None = None,
        raise_errors: bool = True,
        max_retries: int = 0,
        prevent_retries_when: Sequence[type[BaseException]] | None = None,
        log_errors: bool = True,
    ) -> list[tuple[Any, str]]:
        """Ask the child many questions at once (each a dict of `ask` keyword arguments); answers in question order.
        See `octue_beam.ask_multiple`."""
        return ask_multiple(
            [{"service_id": self.id, **self._options(question)} for question in questions],
            max_workers=max_workers,
            raise_errors=raise_errors,
            max_retries=max_retries,
            prevent_retries_when=prevent_retries_when,
            log_errors=log_errors,
        )

    def __repr__(self) -> str:
        return f"<Child {self.key + ': ' if self.key else ''}{self.id}>"


class Tee(list):
    """A list that also appends to two other lists (to record a question's events in several places)."""

    def __init__(self, first: list, second: list) -> None:
        super().__init__()
        self._lists = (first, second)

    def append(self, item: Any) -> None:
        super().append(item)
        for target in self._lists:
            target.append(item)
