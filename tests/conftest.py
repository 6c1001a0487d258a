"""Session-wide fixtures shared by the whole suite (keep each fixture in its own clearly marked block)."""

import os

import pytest

# --- Pub/Sub emulator (helper M) --------------------------------------------------------------------

TEST_PROJECT = "octue-beam-test"


@pytest.fixture(scope="session")
def pubsub_emulator():
    """One Pub/Sub emulator for the whole run; sets PUBSUB_EMULATOR_HOST and GOOGLE_CLOUD_PROJECT meanwhile."""
    from octue_beam.emulators.pubsub import PubSubEmulator

    saved_project = os.environ.get("GOOGLE_CLOUD_PROJECT")
    os.environ["GOOGLE_CLOUD_PROJECT"] = TEST_PROJECT
    emulator = PubSubEmulator()
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()
        if saved_project is None:
            os.environ.pop("GOOGLE_CLOUD_PROJECT", None)
        else:
            os.environ["GOOGLE_CLOUD_PROJECT"] = saved_project


# --- Cloud Storage emulator (helper R) --------------------------------------------------------------

TEST_BUCKET = "octue-beam-test-bucket"


@pytest.fixture(scope="session")
def storage_emulator():
    """One in-process Cloud Storage emulator for the whole run, with the bucket TEST_BUCKET; sets
    STORAGE_EMULATOR_HOST meanwhile (restored afterwards)."""
    from octue_beam.emulators.storage import StorageEmulator

    emulator = StorageEmulator(default_bucket=TEST_BUCKET)
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture(scope="session")
def test_bucket(storage_emulator):
    """The name of a bucket in the session's storage emulator."""
    return TEST_BUCKET
