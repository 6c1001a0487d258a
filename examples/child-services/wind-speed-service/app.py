"""Returns an average wind speed in m/s for each location (made up, but repeatable)."""

import logging
import math

logger = logging.getLogger(__name__)


def run(analysis):
    locations = analysis.input_values["locations"]
    logger.info("Finding the wind speed at %d locations.", len(locations))
    analysis.output_values = [
        round(7 + 3 * math.cos(math.radians(location["latitude"])) + math.sin(math.radians(location["longitude"])), 2)
        for location in locations
    ]
