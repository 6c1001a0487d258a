"""Services: octue.yaml configuration, SRUIDs, app loading, the Analysis and answering one question.

Names are imported lazily so that light modules (e.g. `octue_beam.service.sruid`) can be used without
importing the data resources and storage clients.
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
