"""`octue-beam deploy cloud-run SERVICE_DIR ...` (placeholder: being written)."""

from typing import Any


def add_parser(subparsers: Any) -> None:
    """Register `deploy cloud-run`."""
    subparsers.add_parser("cloud-run", help="(being written)")
