"""Octue's "essential" monitor messages (`octue.twined.essentials.monitor_messages`): a status text and an estimate of
the seconds remaining, each with the service's name and the time (UTC, ISO 8601), sent to the question's parent."""

import datetime
import logging
from typing import Any

logger = logging.getLogger(__name__)


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def send_status_text(analysis: Any, text: str, service_name: str) -> None:
    """Send `{"service", "status_text", "date_time"}` as a monitor message, and log `text` at INFO."""
    analysis.send_monitor_message({"service": service_name, "status_text": text, "date_time": _now()})
    logger.info(text)


def send_estimated_seconds_remaining(analysis: Any, estimated_seconds_remaining: float, service_name: str) -> None:
    """Send `{"service", "estimated_seconds_remaining", "date_time"}` as a monitor message."""
    analysis.send_monitor_message(
        {"service": service_name, "estimated_seconds_remaining": estimated_seconds_remaining, "date_time": _now()}
    )


__all__ = ["send_estimated_seconds_remaining", "send_status_text"]
