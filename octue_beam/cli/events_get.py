"""`octue-beam events get ...` (placeholder: being written)."""

from typing import Any


def add_parser(subparsers: Any) -> None:
    """Register `events get`."""
    subparsers.add_parser("get", help="(being written)")
