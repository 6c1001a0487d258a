"""The import layers of octue_beam: which part of the package may import which (read with `ast`, nothing imported).

Every module of `octue_beam` belongs to a *unit*: its top-level subpackage (`octue_beam.service.loading` -> `service`)
or top-level module (`octue_beam.environment` -> `environment`; the package root `octue_beam/__init__.py`, which only
holds `__version__` and the lazy public API, is `octue_beam`). Units are grouped into layers; `MAY_IMPORT` says, for
each layer, the layers its modules may import (besides their own). Bottom to top:

    layer       units                                                     may import
    base        octue_beam (root), environment, exceptions,               base only
                serialisation, processes, schemas, context, porting, lazy, uuids
    twine       twine                                                     base
    storage     storage                                                   base
    resources   resources, utils                                          base, storage
    messaging   messaging                                                 base
    asking      asking                                                    base, twine, storage, resources, messaging
    service     service                                                   ... and asking (apps ask their children)
    answering   answering                                                 ... and service
    pipeline    pipeline                                                  ... and answering
    emulators   emulators                                                 every layer below pipeline
    testing     testing                                                   ... and emulators
    cli         cli, __main__                                             everything

So `twine`, the data branch (`storage` < `resources`) and the wire (`messaging`) know nothing of each other; asking a
service is the client side and knows nothing of serving one; `service` loads and runs an app (whose children are asked
through `asking`); `answering` answers one question, transport-free; `pipeline` is the Beam adapter over it.

Three rules, each its own test, failing with the importing module, line and forbidden import:

1. Only `cli`, `testing` and `emulators` import `octue_beam.emulators`; only `cli` and `testing` import
   `octue_beam.testing` (`RESTRICTED`).
2. A layer imports only what `MAY_IMPORT` allows it: never a higher layer.
3. No import cycles between units.

Every import counts: module level, inside functions, under `if`/`try`, and `from octue_beam import X` (resolved to the
module defining `X` when `X` is a lazy public name). A new top-level subpackage or module must be added to `UNITS`.
"""

import ast
import functools
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "octue_beam"

# unit -> layer
UNITS: dict[str, str] = {
    "octue_beam": "base",
    "environment": "base",
    "exceptions": "base",
    "serialisation": "base",
    "processes": "base",
    "schemas": "base",
    "context": "base",
    "porting": "base",  # the import rewrite of `port` (pure text, imports nothing of octue_beam)
    "lazy": "base",  # lazy package namespaces (PEP 562)
    "uuids": "base",  # random UUIDs from buffered random bytes
    "twine": "twine",
    "storage": "storage",
    "resources": "resources",
    "utils": "resources",  # Octue's octue.utils names for apps (RegisteredTemporaryDirectory)
    "messaging": "messaging",
    "asking": "asking",
    "service": "service",
    "answering": "answering",
    "pipeline": "pipeline",
    "push": "push",
    "deployment": "deployment",
    "events": "events",
    "batch": "batch",
    "templates": "base",
    "emulators": "emulators",
    "testing": "testing",
    "cli": "cli",
    "__main__": "cli",
}

_PRODUCT = {
    "base", "twine", "storage", "resources", "messaging", "asking", "service", "answering", "pipeline", "push",
    "deployment", "events", "batch",
}

# layer -> the layers its modules may import (besides their own)
MAY_IMPORT: dict[str, set[str]] = {
    "base": set(),
    "twine": {"base"},
    "storage": {"base"},
    "resources": {"base", "storage"},
    "messaging": {"base"},
    "asking": {"base", "twine", "storage", "resources", "messaging"},
    "service": {"base", "twine", "storage", "resources", "messaging", "asking"},
    "answering": {"base", "twine", "storage", "resources", "messaging", "asking", "service"},
    "pipeline": {"base", "twine", "storage", "resources", "messaging", "asking", "service", "answering"},
    # The Cloud Run transport: the answering core over HTTP, never Beam.
    "push": {"base", "twine", "storage", "resources", "messaging", "asking", "service", "answering"},
    # Dockerfiles, Flex Template specs, Cloud Run and Cloud Build: describes and deploys the two transports.
    "deployment": {"base", "twine", "storage", "resources", "messaging", "asking", "service", "answering", "pipeline",
                   "push"},
    # The event store: recording (a Beam pipeline of its own), reading, replaying and drawing events.
    "events": {"base", "twine", "storage", "resources", "messaging", "asking"},
    # Batch questions: a bounded Beam pipeline over the answering core, and re-runs of recorded questions.
    "batch": {"base", "twine", "storage", "resources", "messaging", "asking", "service", "answering", "pipeline",
              "events"},
    "emulators": _PRODUCT - {"pipeline", "push", "deployment", "batch"},
    "testing": (_PRODUCT - {"pipeline", "push", "deployment", "batch"}) | {"emulators"},
    "cli": _PRODUCT | {"emulators", "testing"},
}

# unit -> the units allowed to import it
RESTRICTED: dict[str, set[str]] = {
    "emulators": {"cli", "testing", "emulators"},
    "testing": {"cli", "testing"},
}


@dataclass(frozen=True)
class Import:
    """One import of an octue_beam module by another, where it is written."""

    importer: str  # dotted module name
    path: Path
    line: int
    imported: str  # dotted module name (or the package root for `from octue_beam import __version__`)

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(PACKAGE.parent)}:{self.line}"

    def __str__(self) -> str:
        return f"{self.where}: {self.importer} imports {self.imported}"


def unit_of(module: str) -> str:
    """`octue_beam.service.loading` -> `service`; `octue_beam` -> `octue_beam`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def module_name(path: Path) -> tuple[str, bool]:
    """The dotted name of the module at `path`, and whether it is a package's `__init__`."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def lazy_public_names() -> dict[str, str]:
    """The root package's lazy public API, `{name: defining module}` (its `_PUBLIC` dict, read without importing)."""
    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "_PUBLIC" for t in node.targets):
            return ast.literal_eval(node.value)
    return {}


def is_module(dotted: str) -> bool:
    path = PACKAGE.parent.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports_of(path: Path, public: dict[str, str]) -> list[Import]:
    """Every import of an octue_beam module written in the file at `path`, at any depth."""
    importer, is_package = module_name(path)
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = importer.split(".") if is_package else importer.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = []
            for alias in node.names:
                if is_module(f"{module}.{alias.name}"):
                    targets.append(f"{module}.{alias.name}")
                elif module == "octue_beam" and alias.name in public and public[alias.name] != "octue_beam":
                    targets.append(public[alias.name])
                else:
                    targets.append(module)
        else:
            continue
        for target in dict.fromkeys(targets):
            if target == "octue_beam" or target.startswith("octue_beam."):
                found.append(Import(importer, path, node.lineno, target))
    return found


@functools.cache
def package_imports() -> list[Import]:
    """Every import of an octue_beam module in the package."""
    public = lazy_public_names()
    return [found for path in sorted(PACKAGE.rglob("*.py")) for found in imports_of(path, public)]


def test_every_unit_has_a_layer_and_the_layers_allow_no_cycle():
    unplaced = {unit_of(module_name(path)[0]) for path in PACKAGE.rglob("*.py")} - set(UNITS)
    assert not unplaced, f"Place these new parts of octue_beam in a layer (UNITS): {sorted(unplaced)}"
    assert set(UNITS.values()) == set(MAY_IMPORT)
    assert _cycles({layer: allowed - {layer} for layer, allowed in MAY_IMPORT.items()}) == []


def test_only_the_cli_and_testing_import_emulators_and_testing():
    violations = [
        f"{found} (only {', '.join(sorted(RESTRICTED[unit_of(found.imported)]))} may import "
        f"octue_beam.{unit_of(found.imported)})"
        for found in package_imports()
        if unit_of(found.imported) in RESTRICTED and unit_of(found.importer) not in RESTRICTED[unit_of(found.imported)]
    ]
    if violations:
        pytest.fail("Imports of emulators or testing outside cli and testing:\n" + "\n".join(violations), False)


def test_no_layer_imports_a_higher_one():
    violations = []
    for found in package_imports():
        layer, imported_layer = UNITS[unit_of(found.importer)], UNITS.get(unit_of(found.imported))
        if imported_layer is None or imported_layer == layer or imported_layer in MAY_IMPORT[layer]:
            continue
        allowed = ", ".join(sorted(MAY_IMPORT[layer])) or "nothing else"
        violations.append(f"{found} (layer {layer} imports layer {imported_layer}; {layer} may import: {allowed})")
    if violations:
        pytest.fail("Imports against the layers (see MAY_IMPORT in tests/test_layers.py):\n" + "\n".join(violations),
                    False)


def test_no_import_cycles_between_units():
    edges: dict[str, dict[str, Import]] = {}
    for found in package_imports():
        source, target = unit_of(found.importer), unit_of(found.imported)
        if source != target:
            edges.setdefault(source, {}).setdefault(target, found)
    cycles = _cycles({source: set(targets) for source, targets in edges.items()})
    described = [
        " -> ".join([*cycle, cycle[0]]) + "\n" + "\n".join(
            f"    {edges[a][b]}" for a, b in zip(cycle, [*cycle[1:], cycle[0]], strict=True)
        )
        for cycle in cycles
    ]
    if described:
        pytest.fail("Import cycles between parts of octue_beam:\n" + "\n".join(described), False)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each strongly connected component of `graph` with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph.get(node, ())):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_a_cycle(graph, component) for component in components]


def _a_cycle(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A cycle inside a strongly connected `component`: walk within it until a node repeats."""
    path = [min(component)]
    while True:
        successor = min(graph[path[-1]] & component)
        if successor in path:
            return path[path.index(successor):]
        path.append(successor)
