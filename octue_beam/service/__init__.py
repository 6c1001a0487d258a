"""Services: octue.yaml configuration, app loading, the Analysis, children and answering one question.

Names are imported lazily so that importing one submodule (e.g. `octue_beam.service.configuration`) does not
import the others (the Analysis loads the twine's JSON Schema validators). SRUIDs are `octue_beam.messaging.sruid`,
service registries `octue_beam.asking.registry`, and the question and log context `octue_beam.context`.
"""

import importlib
from typing import Any

_PUBLIC = {
    "Analysis": "octue_beam.service.analysis",
    "Service": "octue_beam.service.loading",
    "load_service": "octue_beam.service.loading",
    "ServiceConfiguration": "octue_beam.service.configuration",
    "load_service_configuration": "octue_beam.service.configuration",
}

__all__ = list(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'octue_beam.service' has no attribute {name!r}")
    return getattr(importlib.import_module(_PUBLIC[name]), name)
