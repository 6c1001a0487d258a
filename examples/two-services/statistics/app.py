"""Summary statistics of a list of numbers."""

import statistics


def run(analysis):
    numbers = analysis.input_values["numbers"]
    analysis.output_values = {
        "count": len(numbers),
        "mean": statistics.fmean(numbers),
        "median": statistics.median(numbers),
        "minimum": min(numbers),
        "maximum": max(numbers),
    }
