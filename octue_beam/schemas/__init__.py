"""Vendored JSON schemas: validation never needs the network."""

import functools
import json
from importlib import resources
from typing import Any


@functools.cache
def load_schema(name: str) -> dict[str, Any]:
    """The vendored schema `<name>.json` (cached; do not mutate)."""
    return json.loads(resources.files(__name__).joinpath(f"{name}.json").read_text(encoding="utf-8"))
