"""The behaviours test service (tests/pipeline/fixtures/behaviours) served for a test, the way every served test
serves it."""

from octue_beam.testing import LocalService
from tests.support.paths import FIXTURES, REPOSITORY


def behaviours_service(*run_options: str) -> LocalService:
    """A `LocalService` (not started: use it in a `with`) of the behaviours service with these `run` options, on the
    session's emulators, without a storage emulator of its own (its questions need none)."""
    return LocalService(
        FIXTURES / "behaviours", *run_options, environment={"STORAGE_EMULATOR_HOST": None}, cwd=REPOSITORY
    )
