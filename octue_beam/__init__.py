"""octue_beam: data services that answer questions, run as Apache Beam streaming pipelines.

The public API is imported lazily so that `python -m octue_beam --help` and small scripts do not pay
for importing Beam and the Google clients.
"""

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_PUBLIC = {
    "Twine": "octue_beam.twine",
    "Analysis": "octue_beam.service.analysis",
    "ServiceConfiguration": "octue_beam.service.configuration",
    "load_service": "octue_beam.service.loading",
    "run_locally": "octue_beam.service.local",
    "Datafile": "octue_beam.resources",
    "Dataset": "octue_beam.resources",
    "Manifest": "octue_beam.resources",
    "ask": "octue_beam.asking",
    "ask_multiple": "octue_beam.asking",
    "Child": "octue_beam.asking",
    "get_answer": "octue_beam.asking",
    "get_events": "octue_beam.events.getting",
    "EventReplayer": "octue_beam.events.replay",
    "ChildEmulator": "octue_beam.testing",
    "emulated_children": "octue_beam.testing",
    "build_service_pipeline": "octue_beam.pipeline",
    "ServiceOptions": "octue_beam.pipeline",
    "exceptions": "octue_beam",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    module_name = _PUBLIC.get(name)
    if module_name is None:
        raise AttributeError(f"module 'octue_beam' has no attribute {name!r}")
    if name == "exceptions":
        return importlib.import_module("octue_beam.exceptions")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
