"""The children an app can ask: `analysis.children["key"].ask(...)`.

Questions asked from inside an app carry the tree attributes (`parent_question_uuid`, `originator_question_uuid`,
`originator`) of the question being answered, so a tree of services of any depth can be followed. Every question
an app asks is recorded (its arguments and the events received) for diagnostics, even when the child fails; a
child's failure is raised in the app as the child's exception type, so the app can catch it.

Children are `octue_beam.asking.Child`s. While `octue_beam.testing.emulated_children(...)` is active, they are
answered by `ChildEmulator`s instead of being asked over Pub/Sub (see `set_emulation`).
"""

import contextlib
import logging
import os
import threading
import uuid as uuid_module
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import ModuleType
from typing import Any

from octue_beam import serialisation
from octue_beam.context import current_question, monitor_forwarder_context, question_context
from octue_beam.exceptions import InvalidServiceID, InvalidValuesContents
from octue_beam.messaging.sruid import split_service_id
from octue_beam.service.configuration import ServiceConfiguration, ServiceLocation, load_service_configuration

logger = logging.getLogger(__name__)


def _asking_child() -> ModuleType:
    """`octue_beam.asking.child` (`Child`, `Tee`), imported when an app's children are first built: importing
    `asking` loads the Pub/Sub client (~0.4 s), which apps without children and `ask-local` runs must not pay for."""
    from octue_beam.asking import child

    return child


# --- recording the questions an app asks (for diagnostics) ---------------------------------------------------------


class QuestionRecorder:
    """Thread-safe list of the questions an app asked, in ask order: `{"id", "key", <ask arguments>, "events"}`."""

    def __init__(self) -> None:
        self._questions: list[dict] = []
        self._lock = threading.Lock()

    def start(self, key: str, child_id: str, arguments: dict, events: list) -> dict:
        record = {"id": child_id, "key": key, **arguments, "events": events}
        with self._lock:
            self._questions.append(record)
        return record

    @property
    def questions(self) -> list[dict]:
        with self._lock:
            return list(self._questions)


# --- emulation (set by octue_beam.testing.emulated_children) --------------------------------------------------------

_emulations: list[Any] = []
_emulations_lock = threading.Lock()


@contextlib.contextmanager
def set_emulation(emulation: Any) -> Iterator[Any]:
    """Have children built while this is active answered by `emulation.next_for(key)` (an object with `ask`).

    `emulation.keys` are child keys to make available even when not configured. Process-wide (so it also holds in
    threads an app starts); the innermost active emulation wins.
    """
    with _emulations_lock:
        _emulations.append(emulation)
    try:
        yield emulation
    finally:
        with _emulations_lock:
            _emulations.remove(emulation)


def current_emulation() -> Any:
    with _emulations_lock:
        return _emulations[-1] if _emulations else None


# --- the children of an analysis -----------------------------------------------------------------------------------


class AppChild:
    """A child as an app sees it (`analysis.children[key]`).

    `ask(...)` takes the parameters of `octue_beam.ask`; the tree attributes of the question being answered and
    this service's SRUID as parent are filled in; the child's monitor messages go to the question's own parent
    unless `handle_monitor_message` is given; the question and its events are recorded for diagnostics.
    """

    def __init__(self, key: str, id: str, child: Any, *, tree: dict, recorder: QuestionRecorder | None = None,
                 forward_monitor_message: Callable[[Any], None] | None = None, emulation: Any = None) -> None:
        self.key = key
        self.id = id
        self.child = child
        self._tree = tree
        self._recorder = recorder
        self._forward_monitor_message = forward_monitor_message
        self._emulation = emulation

    @property
    def received_events(self) -> list[dict]:
        """The events received for the last question asked of this child."""
        return getattr(self.child, "received_events", [])

    def ask(self, input_values: Any = None, input_manifest: Any = None, **kwargs: Any) -> tuple[dict | None, str]:
        arguments = self._prepare({"input_values": input_values, "input_manifest": input_manifest, **kwargs})
        child = self._emulation.next_for(self.key) if self._emulation is not None else self.child
        if self._emulation is not None:
            self.child = child
        with contextlib.ExitStack() as stack:
            # Threads the app starts do not inherit its context: attribute re-emitted child logs to this question.
            if current_question() is None and self._tree.get("parent_question_uuid"):
                stack.enter_context(question_context(self._tree["parent_question_uuid"]))
                stack.enter_context(monitor_forwarder_context(self._forward_monitor_message))
            return child.ask(**arguments)

    def ask_multiple(self, *questions: dict, max_workers: int | None = None, raise_errors: bool = True,
                     **retry_options: Any) -> list[tuple[Any, str]]:
        """Ask this child many questions at once (each a dict of `ask` arguments); answers in question order, as
        `octue_beam.ask_multiple` returns them. Every question is recorded and carries the tree attributes."""
        if self._emulation is not None:
            results = []
            for question in questions:
                try:
                    results.append(self.ask(**question))
                except Exception as error:  # returned in place of the answer when not raising
                    if raise_errors:
                        raise
                    results.append((error, question.get("question_uuid")))
            return results
        prepared = [self._prepare(question) for question in questions]
        return self.child.ask_multiple(*prepared, max_workers=max_workers, raise_errors=raise_errors, **retry_options)

    def _prepare(self, arguments: dict) -> dict:
        """A question's `ask` arguments (a copy) with the tree attributes, a question UUID and the monitor message
        forwarder filled in where not given, recorded (without `record_events`) with the list its events will be
        appended to; `record_events` is that list, or a Tee also appending to the caller's."""
        arguments = dict(arguments)
        for name, value in self._tree.items():
            if arguments.get(name) is None:
                arguments[name] = value
        arguments["question_uuid"] = arguments.get("question_uuid") or str(uuid_module.uuid4())
        if arguments.get("handle_monitor_message") is None and self._forward_monitor_message is not None:
            arguments["handle_monitor_message"] = self._forward_monitor_message
        user_events = arguments.pop("record_events", None)
        events: list = []
        if self._recorder is not None:
            self._recorder.start(self.key, self.id, _recordable(arguments), events)
        if isinstance(user_events, list):
            arguments["record_events"] = _asking_child().Tee(events, user_events)
        else:
            arguments["record_events"] = events
        return arguments

    def __repr__(self) -> str:
        return f"<Child {self.key!r}: {self.id}>"


def _recordable(arguments: dict) -> dict:
    """The ask arguments as JSON (manifests as their JSON; functions and other objects left out)."""
    recorded = {}
    for name, value in arguments.items():
        if name == "handle_monitor_message" or callable(value):
            continue
        if hasattr(value, "to_primitive"):
            value = value.to_primitive()
        try:
            recorded[name] = serialisation.to_json_compatible(value)
        except (TypeError, ValueError):
            recorded[name] = repr(value)
    return recorded


class Children(dict):
    """`{key: child}` whose missing keys raise a KeyError naming the known keys and where children are set."""

    def __init__(self, children: Mapping[str, Any] | None = None, *, source: str = "") -> None:
        super().__init__(children or {})
        self.source = source

    def __missing__(self, key: str) -> Any:
        known = ", ".join(repr(k) for k in sorted(self)) or "none"
        raise KeyError(
            f"This service has no child {key!r} (known children: {known}). Children are declared in the twine's "
            f"'children' strand and configured (key, id, backend) {self.source or 'in octue.yaml'}."
        )


def build_children(
    children: list[dict] | None,
    *,
    parent_sruid: str,
    question_uuid: str,
    originator_question_uuid: str | None,
    originator: str | None,
    source: str = "",
    recorder: QuestionRecorder | None = None,
    forward_monitor_message: Callable[[Any], None] | None = None,
    service_registries: list | None = None,
    declared_keys: Any = (),
) -> Children:
    """`{key: AppChild}` for an analysis from the (validated) children configuration.

    `source` says where the configuration came from (for the error on a missing key); `recorder` records every
    question asked; `forward_monitor_message` receives children's monitor messages when the app gives no handler.
    While children are emulated, the twine's `declared_keys` and the emulated keys are available even if not
    configured.
    """
    tree = {
        "parent_question_uuid": question_uuid,
        "originator_question_uuid": originator_question_uuid or question_uuid,
        "originator": originator or parent_sruid,
        "parent_sruid": parent_sruid,
    }
    emulation = current_emulation()
    child_class = None if emulation is not None else _asking_child().Child
    built: dict[str, AppChild] = {}
    for child in children or []:
        key = child["key"]
        if key in built:
            raise InvalidValuesContents(f"Two children have the key {key!r}; each key must name one child.")
        real = None
        if child_class is not None:
            real = child_class(child["id"], child.get("backend"), service_registries=service_registries or None,
                               parent_sruid=parent_sruid, key=key)
        built[key] = AppChild(key, child["id"], real, tree=tree, recorder=recorder,
                              forward_monitor_message=forward_monitor_message, emulation=emulation)
    if emulation is not None:
        for key in [*declared_keys, *getattr(emulation, "keys", ())]:
            if key not in built:
                built[key] = AppChild(key, emulation.id_for(key), None, tree=tree, recorder=recorder,
                                      forward_monitor_message=forward_monitor_message, emulation=emulation)
    return Children(built, source=source)


# --- where a local run serves a tree of services --------------------------------------------------------------------


Served = str | os.PathLike | ServiceLocation


def serving_projects(service: Served, companions: Sequence[Served], project: str) -> list[tuple[Served, str]]:
    """Where a local run must serve its companions so that their parents reach them: `[(service, project)]`.

    The run serves `service` in `project`; each companion (a `--with` folder, or a `ServiceLocation` for one of
    several services in a folder) is served in every project that a service of the run asks it in: the
    `backend.project_id` of the entries naming it (by namespace and name) under `children` in the octue.yaml of the
    services served, or, without one, the project that parent is served in. This follows the configuration as a
    deployment does, so a parent asks its children exactly where its octue.yaml says on the emulator too (Octue's
    child-services template names `octue-sdk-python`). A companion no service asks is served in `project`; the main
    service is served again in any other project a companion asks it in. Services are returned as given; the main
    service's first entry, `(service, project)`, is not listed (the run serves it already).
    """
    folders = [service, *companions]
    configurations = [_configuration_of(each) for each in folders]
    identities = [f"{configuration.namespace}/{configuration.name}" for configuration in configurations]
    served: list[list[str]] = [[project]] + [[] for _ in companions]
    while True:  # a fixpoint: a service served in a new project asks its own children from there too
        new = _asked_placements(configurations, identities, served)
        if not new:
            unasked = [projects for projects in served if not projects]
            if not unasked:
                break
            for projects in unasked:  # nobody asks these: served in the run's project (asking from there)
                projects.append(project)
        for index, asked_in in new:
            if asked_in not in served[index]:
                served[index].append(asked_in)
    placements = [(folders[0], other) for other in served[0][1:]]
    for folder, projects in zip(folders[1:], served[1:], strict=True):
        placements += [(folder, each) for each in projects]
    return placements


def _configuration_of(service: Served) -> ServiceConfiguration:
    if isinstance(service, ServiceLocation):
        return load_service_configuration(service.directory, service_name=service.name)
    return load_service_configuration(service)


def _asked_placements(configurations: list, identities: list[str], served: list[list[str]]) -> list[tuple[int, str]]:
    """`(index of a service, project)` for each place a service, as served so far, asks a service that is not served
    there yet (by the `children` of its configuration)."""
    new = []
    for asker, configuration in enumerate(configurations):
        for parent_project in served[asker]:
            for child in configuration.children or []:
                try:
                    namespace, name, _ = split_service_id(str(child.get("id", "")))
                except InvalidServiceID:  # reported when the service loads or asks it
                    continue
                asked_in = (child.get("backend") or {}).get("project_id") or parent_project
                for index, identity in enumerate(identities):
                    if identity == f"{namespace}/{name}" and asked_in not in served[index]:
                        new.append((index, asked_in))
    return new
