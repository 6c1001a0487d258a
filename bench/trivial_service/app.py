def run(analysis):
    analysis.output_values = {"echo": analysis.input_values["n"]}
