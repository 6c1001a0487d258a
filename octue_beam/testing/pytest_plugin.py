"""pytest plugin shipped with octue_beam (registered as `octue_beam` through the `pytest11` entry point).

Fixtures for testing services the way octue_beam tests its own examples:

- `pubsub_emulator` (session): Google's Pub/Sub emulator, started once; sets `PUBSUB_EMULATOR_HOST` and
  `GOOGLE_CLOUD_PROJECT` (to `TEST_PROJECT`) while it runs.
- `storage_emulator` (session): an in-memory Cloud Storage emulator with the bucket `TEST_BUCKET`; sets
  `STORAGE_EMULATOR_HOST` while it runs.
- `local_service` (per test): a factory, `local_service(service_dir, *run_options) -> LocalService`, serving the
  service with `python -m octue_beam run SERVICE_DIR --runner DirectRunner` against those emulators, ready when
  returned and stopped at the end of the test. For one service shared by a module, use `LocalService` in your own
  module-scoped fixture.
"""

import os

import pytest

TEST_PROJECT = "octue-beam-test"
TEST_BUCKET = "octue-beam-test-bucket"


@pytest.fixture(scope="session")
def pubsub_emulator():
    """One Pub/Sub emulator for the whole run; sets PUBSUB_EMULATOR_HOST and GOOGLE_CLOUD_PROJECT meanwhile. The
    answer listeners reading from it are closed before it stops."""
    from octue_beam.asking.session import close_listeners
    from octue_beam.emulators.pubsub import PubSubEmulator

    saved_project = os.environ.get("GOOGLE_CLOUD_PROJECT")
    os.environ["GOOGLE_CLOUD_PROJECT"] = TEST_PROJECT
    emulator = PubSubEmulator(before_stop=close_listeners)
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()
        if saved_project is None:
            os.environ.pop("GOOGLE_CLOUD_PROJECT", None)
        else:
            os.environ["GOOGLE_CLOUD_PROJECT"] = saved_project


@pytest.fixture(scope="session")
def storage_emulator():
    """One in-memory Cloud Storage emulator for the whole run, with the bucket TEST_BUCKET; sets
    STORAGE_EMULATOR_HOST meanwhile (restored afterwards)."""
    from octue_beam.emulators.storage import StorageEmulator

    emulator = StorageEmulator(default_bucket=TEST_BUCKET)
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def local_service(pubsub_emulator, storage_emulator):
    """Factory: `local_service(service_dir, *run_options, **LocalService_options)` -> a started `LocalService`,
    stopped when the test ends."""
    from octue_beam.emulators.services import LocalService

    started: list[LocalService] = []

    def start(service_dir, *run_options: str, timeout: float = 120, **options) -> LocalService:
        service = LocalService(service_dir, *run_options, **options)
        started.append(service)
        return service.start(timeout=timeout)

    try:
        yield start
    finally:
        for service in started:
            service.stop()
