"""The fractal service: draws a Mandelbrot (or Julia) surface as a Plotly figure."""

import logging

from fractal import figure

logger = logging.getLogger(__name__)


def run(analysis):
    settings = {**analysis.configuration_values, **(analysis.input_values or {})}
    logger.info(
        "Drawing a %dx%d fractal with %d iterations.", settings["width"], settings["height"], settings["n_iterations"]
    )
    analysis.send_monitor_message({"status": "drawing", "progress": 0})
    analysis.output_values = figure(settings)
    analysis.send_monitor_message({"status": "done", "progress": 1})
