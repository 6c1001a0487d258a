"""Writing small services into temporary folders for tests."""

import json
import textwrap
from pathlib import Path

import yaml

DEFAULT_APP = """
def run(analysis):
    analysis.output_values = {"echo": analysis.input_values}
"""

DEFAULT_TWINE = {
    "input_values_schema": {"type": "object"},
    "output_values_schema": {"type": "object", "required": ["echo"]},
}


def write_service(
    folder: Path,
    *,
    app: str = DEFAULT_APP,
    twine: dict | str | None = None,
    service: dict | None = None,
    files: dict[str, str] | None = None,
) -> Path:
    """Write app.py, twine.json and octue.yaml (plus any extra files) into `folder` and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "app.py").write_text(textwrap.dedent(app))
    twine = DEFAULT_TWINE if twine is None else twine
    (folder / "twine.json").write_text(twine if isinstance(twine, str) else json.dumps(twine))
    services = [{"namespace": "test-org", "name": "test-service", **(service or {})}]
    (folder / "octue.yaml").write_text(yaml.safe_dump({"services": services}))
    for name, text in (files or {}).items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return folder
