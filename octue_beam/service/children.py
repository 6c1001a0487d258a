"""The children an app can ask: `analysis.children["key"].ask(...)`.

Questions asked from inside an app carry the tree attributes (`parent_question_uuid`, `originator_question_uuid`,
`originator`) of the question being answered, so a tree of services of any depth can be followed.
"""

from typing import Any

from octue_beam.exceptions import InvalidValuesContents


class Child:
    """A child service, asked through Pub/Sub with `octue_beam.ask`.

    :param id: the child's service ID or SRUID
    :param backend: `{"name": "GCPPubSubBackend", "project_id": ...}` as in octue.yaml
    """

    def __init__(self, id: str, backend: dict | None = None, *, key: str | None = None, parent_sruid: str | None = None,
                 tree: dict | None = None) -> None:
        self.id = id
        self.key = key
        self.backend = backend or {"name": "GCPPubSubBackend"}
        self._parent_sruid = parent_sruid
        self._tree = tree or {}

    def ask(self, input_values: Any = None, input_manifest: Any = None, **kwargs: Any) -> tuple[dict | None, str]:
        """Ask the child a question and wait for its answer: `(answer, question_uuid)` as `octue_beam.ask` returns."""
        from octue_beam.asking import ask

        options = {**self._tree, **kwargs}
        if self._parent_sruid is not None:
            options.setdefault("parent_sruid", self._parent_sruid)
        options.setdefault("project", self.backend.get("project_id"))
        return ask(self.id, input_values=input_values, input_manifest=input_manifest, **options)

    def __repr__(self) -> str:
        return f"<Child {self.key!r}: {self.id}>"


def build_children(children: list[dict] | None, *, parent_sruid: str, question_uuid: str,
                   originator_question_uuid: str | None, originator: str | None) -> dict[str, Child]:
    """`{key: Child}` for an analysis from the (validated) children configuration."""
    built: dict[str, Child] = {}
    tree = {
        "parent_question_uuid": question_uuid,
        "originator_question_uuid": originator_question_uuid or question_uuid,
        "originator": originator or parent_sruid,
    }
    for child in children or []:
        if child["key"] in built:
            raise InvalidValuesContents(f"Two children have the key {child['key']!r}; each key must name one child.")
        built[child["key"]] = Child(child["id"], child.get("backend"), key=child["key"], parent_sruid=parent_sruid, tree=tree)
    return built
