"""`octue-beam events replay ...` (placeholder: being written)."""

from typing import Any


def add_parser(subparsers: Any) -> None:
    """Register `events replay`."""
    subparsers.add_parser("replay", help="(being written)")
