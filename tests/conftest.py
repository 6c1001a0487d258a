"""Session-wide fixtures shared by the whole suite (keep each fixture in its own clearly marked block).

The emulator fixtures `pubsub_emulator` and `storage_emulator` (and `local_service`) come from octue_beam's own pytest
plugin, `octue_beam.testing.pytest_plugin` (registered through the package's `pytest11` entry point), so the suite
tests services the way users do and each emulator starts once per session.
"""

import pytest

from octue_beam.testing.pytest_plugin import TEST_BUCKET, TEST_PROJECT  # noqa: F401 - imported by tests

# --- Cloud Storage emulator (helper R) --------------------------------------------------------------


@pytest.fixture(scope="session")
def test_bucket(storage_emulator):
    """The name of a bucket in the session's storage emulator."""
    return TEST_BUCKET
