"""JSON Schema validation with vendored schemas, compiled once, and errors that name the strand, path and reason."""

from collections.abc import Callable
from typing import Any

import jsonschema
import jsonschema.exceptions
import jsonschema.validators
import referencing
import referencing.exceptions
import referencing.jsonschema

from octue_beam.schemas import load_schema

VENDORED = ("twine", "children", "manifest")


def _retrieve(uri: str) -> referencing.Resource:
    """Refuse to fetch any schema over the network: only vendored schemas resolve."""
    raise referencing.exceptions.NoSuchResource(ref=uri)


def _registry() -> referencing.Registry:
    resources = []
    for name in VENDORED:
        schema = load_schema(name)
        resources.append((schema["$id"], referencing.jsonschema.DRAFT202012.create_resource(schema)))
    return referencing.Registry(retrieve=_retrieve).with_resources(resources)


_REGISTRY = None


def compile_validator(schema: dict | bool, where: str) -> Any:
    """A validator for `schema` (draft from its `$schema`, default 2020-12, no format checking, no network).

    Raises jsonschema.SchemaError (re-raised by callers with `where`) when the schema itself is invalid.
    """
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = _registry()
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    cls.check_schema(schema)
    return cls(schema, registry=_REGISTRY)


def json_path(error: jsonschema.exceptions.ValidationError) -> str:
    """`$.a[0].b` form of where in the data an error is."""
    path = "$"
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def first_error(validator: Any, data: Any) -> jsonschema.exceptions.ValidationError | None:
    """The most relevant validation error, or None when `data` is valid."""
    try:
        return jsonschema.exceptions.best_match(validator.iter_errors(data))
    except referencing.exceptions.Unresolvable as error:
        raise jsonschema.exceptions.ValidationError(
            f"the schema refers to {error.ref!r}, which is not vendored and is never fetched over the network; "
            "inline that schema instead"
        ) from None


def check(validator: Any, data: Any, describe: str, error_class: Callable[[str], Exception]) -> None:
    """Raise `error_class` naming `describe`, the JSON path and the reason when `data` is invalid."""
    try:
        error = first_error(validator, data)
    except jsonschema.exceptions.ValidationError as unresolvable:
        raise error_class(f"Cannot validate {describe}: {unresolvable.message}.") from None
    if error is not None:
        raise error_class(f"{describe} is invalid at {json_path(error)}: {error.message}.")
