"""The example question in the `ask` command `run` prints (octue_beam/cli/examples.py): the service folder's example
files first, else the twine's examples, else placeholder values valid for the twine."""

import json
import shlex

import jsonschema
import pytest

from octue_beam.cli.examples import example_question, placeholder
from tests.support.paths import REPOSITORY
from tests.support.service_dirs import write_service

SCHEMAS = {
    "bounded numbers": {
        "type": "object",
        "required": ["a", "b", "c", "d"],
        "properties": {
            "a": {"type": "integer", "minimum": 3},
            "b": {"type": "number", "exclusiveMinimum": 1, "exclusiveMaximum": 2},
            "c": {"type": "integer", "maximum": -5},
            "d": {"type": "integer", "minimum": 1, "multipleOf": 4},
        },
    },
    "strings": {
        "type": "object",
        "required": ["short", "long", "date", "uuid", "choice"],
        "properties": {
            "short": {"type": "string", "maxLength": 3},
            "long": {"type": "string", "minLength": 12},
            "date": {"type": "string", "format": "date-time"},
            "uuid": {"type": "string", "format": "uuid"},
            "choice": {"enum": ["north", "south"]},
        },
        "additionalProperties": False,
    },
    "nested and referenced": {
        "type": "object",
        "required": ["points", "origin", "mode"],
        "properties": {
            "points": {"type": "array", "minItems": 2, "items": {"$ref": "#/definitions/point"}},
            "origin": {"$ref": "#/definitions/point"},
            "mode": {"oneOf": [{"const": "fast"}, {"const": "slow"}]},
            "optional": {"type": "string", "minLength": 100},
        },
        "definitions": {
            "point": {"type": "object", "required": ["x", "y"], "properties": {"x": {"type": "number"},
                                                                            "y": {"type": ["null", "boolean"]}}}
        },
    },
    "defaults": {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer", "default": 7}}},
}


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_placeholder_values_are_valid_for_their_schema(name):
    schema = SCHEMAS[name]
    value = placeholder(schema)
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    assert list(validator.iter_errors(value)) == []
    assert sorted(value) == sorted(schema["required"])


def test_the_example_files_of_the_service_folder_come_first(tmp_path, monkeypatch):
    monkeypatch.chdir(REPOSITORY)
    parent = REPOSITORY / "examples" / "child-services" / "parent-service"
    twine = json.loads((parent / "twine.json").read_text())
    example = example_question(parent, twine)
    assert example.arguments == ["--input-values", "examples/child-services/parent-service/data/input_values.json"]
    assert example.folder is None

    manifests = REPOSITORY / "examples" / "using-manifests"
    example = example_question(manifests, json.loads((manifests / "twine.json").read_text()))
    assert example.arguments == ["--input-manifest", "data/input/manifest.json"]
    assert example.folder == "examples/using-manifests"  # the manifest's datasets are relative to it

    schema = {"type": "object", "required": ["n"], "examples": [{"n": 3}]}
    folder = write_service(tmp_path / "service", twine={"input_values_schema": schema})
    assert example_question(folder, {"input_values_schema": schema}).arguments == ["--input-values", "'{\"n\": 3}'"]
    (folder / "data" / "input").mkdir(parents=True)
    (folder / "data" / "input" / "values.json").write_text('{"n": 4}')
    [option, path] = example_question(folder, {"input_values_schema": schema}).arguments
    assert option == "--input-values" and json.loads(open(shlex.split(path)[0]).read()) == {"n": 4}
