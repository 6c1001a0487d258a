"""Returns an elevation in metres for each location (a smooth made-up terrain, so answers are repeatable)."""

import logging
import math

logger = logging.getLogger(__name__)


def run(analysis):
    locations = analysis.input_values["locations"]
    logger.info("Finding the elevation of %d locations.", len(locations))
    analysis.output_values = [
        round(
            1500
            + 1000
            * math.sin(math.radians(location["latitude"] * 3))
            * math.cos(math.radians(location["longitude"] * 2)),
            1,
        )
        for location in locations
    ]
