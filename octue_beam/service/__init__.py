"""Services: octue.yaml configuration, SRUIDs, app loading, the Analysis and answering one question."""

from octue_beam.service.analysis import Analysis
from octue_beam.service.configuration import ServiceConfiguration, load_service_configuration
from octue_beam.service.loading import Service, load_service

__all__ = ["Analysis", "Service", "ServiceConfiguration", "load_service", "load_service_configuration"]
