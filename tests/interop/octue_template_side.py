"""Run by the `octue` interpreter (the second environment, tests/support/octue.py) in the template tests; never
imported by pytest.

`python octue_template_side.py PARAMS_JSON` runs one app with Octue's own `octue.twined.runner.Runner`, in the
current folder, exactly as Octue's template tests do (`Runner(app_src, twine, configuration_values).run(...)`), and
writes a JSON report to `params["report"]`: the output values and, for each output dataset, its name, labels, tags
and files (name, labels, tags, text). Keys of `params`: `app_src`, `twine`, `configuration_values`,
`input_values`, `input_manifest` (each as `Runner` takes it), `manifest_schema`, `report`.

Octue checks manifests against a schema it fetches from jsonschema.registry.octue.com, which cannot be reached
offline; `manifest_schema` is the path of octue_beam's copy of that schema (same shape), used in its place.
Google credentials are replaced by anonymous ones (nothing here reaches Google).
"""

import json
import os
import sys

import google.auth
import google.auth.credentials

google.auth.default = lambda *args, **kwargs: (google.auth.credentials.AnonymousCredentials(), "octue-beam-local")

from octue.twined import twine as octue_twine  # noqa: E402
from octue.twined.runner import Runner  # noqa: E402


def _offline_schemas(manifest_schema_path):
    """Validate against octue_beam's copy of Octue's manifest schema instead of fetching it."""
    with open(manifest_schema_path) as f:
        manifest_schema = json.load(f)
    validate = octue_twine.jsonschema_validate

    def offline_validate(instance, schema, **kwargs):
        if schema == {"$ref": octue_twine.MANIFEST_SCHEMA}:
            schema = manifest_schema
        return validate(instance=instance, schema=schema, **kwargs)

    octue_twine.jsonschema_validate = offline_validate


def describe_manifest(manifest):
    """Each output dataset's name, labels, tags and files (name -> labels, tags, text), without IDs or paths."""
    if manifest is None:
        return None
    described = {}
    for key, dataset in manifest.datasets.items():
        files = {}
        for datafile in dataset.files:
            with datafile.open("r") as f:
                text = f.read()
            files[datafile.name] = {
                "labels": sorted(map(str, datafile.labels)), "tags": dict(datafile.tags), "text": text
            }
        described[key] = {
            "name": dataset.name,
            "labels": sorted(map(str, dataset.labels)),
            "tags": dict(dataset.tags),
            "files": files,
        }
    return described


def main(params):
    _offline_schemas(params["manifest_schema"])
    sys.path.insert(0, os.path.abspath(params["app_src"]))
    runner = Runner(
        app_src=params["app_src"], twine=params["twine"], configuration_values=params.get("configuration_values")
    )
    analysis = runner.run(input_values=params.get("input_values"), input_manifest=params.get("input_manifest"))
    report = {"output_values": analysis.output_values, "output_manifest": describe_manifest(analysis.output_manifest)}
    with open(params["report"], "w") as f:
        json.dump(report, f)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
