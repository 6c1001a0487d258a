"""Converts a wind speed between units; the number of decimals is the service's configuration."""

METRES_PER_SECOND = {"m/s": 1.0, "km/h": 1 / 3.6, "knots": 0.514444, "mph": 0.44704}


def run(analysis):
    value = analysis.input_values["value"] * METRES_PER_SECOND[analysis.input_values["from"]]
    converted = value / METRES_PER_SECOND[analysis.input_values["to"]]
    analysis.output_values = {"value": round(converted, analysis.configuration_values["decimals"])}
