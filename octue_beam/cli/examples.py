"""The example question in the `ask` command that `run` prints ("Ask it from another shell"), so that the printed
command works as printed.

The rule, in order:

1. Input values: the first of `EXAMPLE_VALUES_FILES` in the service's folder (the folder of its octue.yaml), named
   by its path; else the first of the twine's `input_values_schema` `examples`; else a placeholder built from the
   schema (`placeholder`): its required properties, each with a value of its type within its bounds (a `default`,
   `const`, `examples` or `enum` value where the schema gives one). No `--input-values` when the twine has no
   input values strand.
2. Input manifest: the first of `EXAMPLE_MANIFEST_FILES` in the service's folder when the twine has an
   `input_manifest` strand (its local datasets are uploaded to the storage emulator by `ask`, `cli.manifests`).

Paths are relative to the current folder when the service is under it, else absolute. The datasets a manifest
names by relative paths are relative to the folder `ask` runs in, so with a manifest the command first changes to
the service's folder (unless it runs there) and names both files relative to it.
"""

import dataclasses
import json
import math
import os
import shlex
from pathlib import Path
from typing import Any

EXAMPLE_VALUES_FILES = ("data/input/values.json", "data/input/input_values.json", "data/input_values.json")
EXAMPLE_MANIFEST_FILES = ("data/input/manifest.json", "data/input/input_manifest.json", "data/input_manifest.json")

#: Placeholders of strings with a `format` (any other string is "example", fitted to its length bounds).
_FORMATTED_STRINGS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "00:00:00Z",
    "email": "someone@example.com",
    "uri": "https://example.com",
    "uuid": "00000000-0000-4000-8000-000000000000",
}
_MAX_DEPTH = 20


@dataclasses.dataclass
class ExampleQuestion:
    """The `ask` options of the example question: `arguments` (already shell-quoted), where they came from, and the
    folder to run `ask` in (None: anywhere)."""

    arguments: list[str]
    source: str
    folder: str | None = None

    @property
    def command_line(self) -> str:
        return " ".join(self.arguments)


def example_question(service_dir: str | os.PathLike, twine: dict) -> ExampleQuestion:
    """The example question of the service in `service_dir` whose twine (JSON form) is `twine`."""
    folder = Path(service_dir).resolve()
    manifest_file = _first_file(folder, EXAMPLE_MANIFEST_FILES) if twine.get("input_manifest") is not None else None
    run_in = None
    if manifest_file is not None and folder != Path.cwd().resolve():
        run_in = _shown_path(folder)

    def shown(path: Path) -> str:
        return str(path.relative_to(folder)) if run_in else _shown_path(path)

    arguments: list[str] = []
    sources = []
    schema = twine.get("input_values_schema")
    if schema is not None:
        values_file = _first_file(folder, EXAMPLE_VALUES_FILES)
        if values_file is not None:
            arguments += ["--input-values", shlex.quote(shown(values_file))]
            sources.append(f"the example input values in {_shown_path(values_file)}")
        elif isinstance(schema, dict) and schema.get("examples"):
            arguments += ["--input-values", shlex.quote(json.dumps(schema["examples"][0]))]
            sources.append("the twine's example input values")
        else:
            arguments += ["--input-values", shlex.quote(json.dumps(placeholder(schema)))]
            sources.append("placeholder input values made from the twine: edit them")
    if manifest_file is not None:
        arguments += ["--input-manifest", shlex.quote(shown(manifest_file))]
        sources.append(f"the example input manifest in {_shown_path(manifest_file)}")
    return ExampleQuestion(arguments, "; ".join(sources) or "no inputs: the twine has no input strand", run_in)


def _first_file(folder: Path, names: tuple[str, ...]) -> Path | None:
    for name in names:
        if (folder / name).is_file():
            return folder / name
    return None


def _shown_path(path: Path) -> str:
    """`path` relative to the current folder when it is under it (as typed from here), else absolute."""
    absolute = path.resolve()
    try:
        return str(absolute.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(absolute)


def placeholder(schema: Any, root: Any = None, depth: int = 0) -> Any:
    """A value valid for the JSON schema `schema` in the common cases: the schema's own `const`, `default`,
    `examples` or `enum` value where given; an object of its required properties; an array of `minItems` items; a
    number within `minimum`/`maximum` (a multiple of `multipleOf`); a string fitted to `minLength`/`maxLength` or
    its `format`; `false`; `null`. Local `$ref`s (`#/...`) are followed. Patterns are not honoured."""
    root = schema if root is None else root
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return None
    if isinstance(schema.get("$ref"), str) and schema["$ref"].startswith("#"):
        return placeholder(_resolve(root, schema["$ref"]), root, depth + 1)
    for key in ("const", "default"):
        if key in schema:
            return schema[key]
    for key in ("examples", "enum"):
        if schema.get(key):
            return schema[key][0]
    for key in ("oneOf", "anyOf", "allOf"):
        if schema.get(key):
            return placeholder(schema[key][0], root, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((name for name in kind if name != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema or "required" in schema else "array" if "items" in schema else None
    if kind == "object":
        properties = schema.get("properties") or {}
        return {name: placeholder(properties.get(name, {}), root, depth + 1) for name in schema.get("required", [])}
    if kind == "array":
        count = int(schema.get("minItems", 0))
        prefix = schema.get("prefixItems") or []
        items = [placeholder(item, root, depth + 1) for item in prefix[:count]]
        return items + [placeholder(schema.get("items", {}), root, depth + 1) for _ in range(count - len(items))]
    if kind in ("integer", "number"):
        return _number(schema, integer=kind == "integer")
    if kind == "string":
        return _string(schema)
    if kind == "boolean":
        return False
    return None


def _resolve(root: Any, reference: str) -> Any:
    target = root
    for part in reference.lstrip("#").split("/"):
        if not part:
            continue
        part = part.replace("~1", "/").replace("~0", "~")
        target = target.get(part) if isinstance(target, dict) else None
    return target


def _number(schema: dict, integer: bool) -> int | float:
    low = schema.get("minimum")
    if low is None and schema.get("exclusiveMinimum") is not None:
        low = schema["exclusiveMinimum"] + (1 if integer else 0.5)
    high = schema.get("maximum")
    if high is None and schema.get("exclusiveMaximum") is not None:
        high = schema["exclusiveMaximum"] - (1 if integer else 0.5)
    value = low if low is not None else 0
    if high is not None and value > high:
        value = high
    step = schema.get("multipleOf")
    if step:
        value = math.ceil(value / step) * step
    return int(math.ceil(value)) if integer else value


def _string(schema: dict) -> str:
    if schema.get("format") in _FORMATTED_STRINGS:
        return _FORMATTED_STRINGS[schema["format"]]
    value = "example"
    minimum = int(schema.get("minLength", 0))
    if len(value) < minimum:
        value = value + "x" * (minimum - len(value))
    if schema.get("maxLength") is not None:
        value = value[: int(schema["maxLength"])]
    return value
