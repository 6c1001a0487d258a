"""`octue-beam events timeline ...` (placeholder: being written)."""

from typing import Any


def add_parser(subparsers: Any) -> None:
    """Register `events timeline`."""
    subparsers.add_parser("timeline", help="(being written)")
