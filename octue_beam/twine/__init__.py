"""Twines: loading `twine.json` and validating strand data against it."""

from octue_beam.twine.twine import ALL_STRANDS, MANIFEST_STRANDS, SCHEMA_STRANDS, Twine

__all__ = ["Twine", "ALL_STRANDS", "MANIFEST_STRANDS", "SCHEMA_STRANDS"]
