"""Services: octue.yaml configuration, app loading, the Analysis, children and answering one question.

Names are imported lazily so that importing one submodule (e.g. `octue_beam.service.configuration`) does not
import the others (the Analysis loads the twine's JSON Schema validators). SRUIDs are `octue_beam.messaging.sruid`,
service registries `octue_beam.asking.registry`, and the question and log context `octue_beam.context`.
"""

from octue_beam.lazy import lazy_namespace

_PUBLIC = {
    "Analysis": "octue_beam.service.analysis",
    "Service": "octue_beam.service.loading",
    "load_service": "octue_beam.service.loading",
    "ServiceConfiguration": "octue_beam.service.configuration",
    "load_service_configuration": "octue_beam.service.configuration",
}

__all__ = list(_PUBLIC)
__getattr__, __dir__ = lazy_namespace(__name__, _PUBLIC)
