"""Where things are in the repository, for tests that serve its examples and test services."""

from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
FIXTURES = REPOSITORY / "tests" / "pipeline" / "fixtures"
