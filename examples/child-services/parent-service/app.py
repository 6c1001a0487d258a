"""Asks two children, in parallel, about a list of locations and combines their answers."""

import logging
from concurrent.futures import ThreadPoolExecutor

logger = logging.getLogger(__name__)


def run(analysis):
    locations = analysis.input_values["locations"]
    logger.info("Asking the children about %d locations.", len(locations))

    with ThreadPoolExecutor(max_workers=2) as pool:
        wind_speed = pool.submit(
            analysis.children["wind_speed"].ask, input_values={"locations": locations}, timeout=120
        )
        elevation = pool.submit(analysis.children["elevation"].ask, input_values={"locations": locations}, timeout=120)
        wind_speeds = wind_speed.result()[0]["output_values"]
        elevations = elevation.result()[0]["output_values"]

    analysis.output_values = {"wind_speeds": wind_speeds, "elevations": elevations}
