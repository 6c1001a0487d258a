"""`octue-beam deploy dataflow SERVICE_DIR ...` (placeholder: being written)."""

from typing import Any


def add_parser(subparsers: Any) -> None:
    """Register `deploy dataflow`."""
    subparsers.add_parser("dataflow", help="(being written)")
