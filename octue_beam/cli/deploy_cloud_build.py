"""`octue-beam deploy cloud-build SERVICE_DIR ...` (placeholder: being written)."""

from typing import Any


def add_parser(subparsers: Any) -> None:
    """Register `deploy cloud-build`."""
    subparsers.add_parser("cloud-build", help="(being written)")
