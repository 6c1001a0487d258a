"""Tools for testing services: emulated children, fixtures from diagnostics, services served in a subprocess.

- `ChildEmulator(events=[...])`: a child replaying recorded events (results, exceptions, logs, monitor messages).
- `emulated_children({...} | [...])`: a context manager answering a service's children with emulators, so
  `run_locally(service_dir, ...)` runs a parent service with no Pub/Sub.
- `load_test_fixture_from_diagnostics(path)`: `(configuration_values, configuration_manifest, input_values,
  input_manifest, child_emulators)` from downloaded diagnostics.
- `LocalService(service_dir)`: `python -m octue_beam run SERVICE_DIR --runner DirectRunner` in a subprocess.
- The pytest plugin `octue_beam.testing.pytest_plugin` (installed with the package) provides the fixtures
  `pubsub_emulator`, `storage_emulator` and `local_service`.
"""

from octue_beam.lazy import lazy_namespace

_PUBLIC = {
    "ChildEmulator": "octue_beam.testing.child_emulator",
    "emulated_children": "octue_beam.testing.emulation",
    "Emulation": "octue_beam.testing.emulation",
    "load_test_fixture_from_diagnostics": "octue_beam.testing.fixtures",
    "LocalService": "octue_beam.emulators.services",
}

__all__ = list(_PUBLIC)
__getattr__, __dir__ = lazy_namespace(__name__, _PUBLIC)
