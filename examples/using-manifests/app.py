"""Clean met-mast CSV files listed in the input manifest into one output dataset.

A port of Octue's `template-using-manifests`: the input dataset `raw_met_mast_data` holds time-series CSV files
(label `timeseries`, tag `sequence`) and one metadata file (label `meta`) giving the date of the recording. The app
reads the time series in sequence order, joins them, fixes the column names and adds the date, then writes
`cleaned.csv` into the output dataset `cleaned_met_mast_data` (uploaded by the service when the question ends).
Only the standard library is used.
"""

import csv
import io
import logging
import os
import re

from octue_beam import Datafile

logger = logging.getLogger(__name__)

# The raw files have a typo in one column name.
COLUMN_FIXES = {"Barmoeter_1": "Barometer_1"}


def run(analysis):
    input_dataset = analysis.input_manifest.get_dataset("raw_met_mast_data")
    metadata = read_metadata(input_dataset.get_file_by_label("meta"))
    logger.info("Met mast recording of %s.", metadata.get("date"))

    timeseries_files = input_dataset.files.filter(labels__contains="timeseries").order_by(
        "tags__sequence", check_start_value=0, check_constant_increment=1
    )
    header, rows = join_csv_files(timeseries_files)
    header, rows = clean(header, rows, date=metadata.get("date", ""))
    time_window = (analysis.configuration_values or {}).get("time_window", 600)

    output_dataset = analysis.output_manifest.get_dataset("cleaned_met_mast_data")
    output_dataset.labels = {"met", "mast", "cleaned"}
    output_dataset.tags = {"source_files": len(timeseries_files), **input_dataset.tags}

    cleaned = Datafile(
        os.path.join(output_dataset.path, "cleaned.csv"),
        labels=["timeseries"],
        tags={"rows": len(rows), "time_window": time_window},
    )
    with cleaned.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    output_dataset.add(cleaned)
    logger.info("Cleaned %d rows from %d files.", len(rows), len(timeseries_files))


def read_metadata(datafile):
    """`KEY: value` lines of the metadata file as a dict with snake_case keys."""
    metadata = {}
    with datafile.open() as f:
        for line in f:
            key, separator, value = line.partition(":")
            if separator:
                metadata[snake_case(key)] = value.strip()
    return metadata


def join_csv_files(datafiles):
    """The header of the first file and the rows of all files, in order (every file must share the header)."""
    header, rows = None, []
    for datafile in datafiles:
        with datafile.open() as f:
            reader = csv.reader(io.StringIO(f.read()))
            file_header = next(reader)
            if header is None:
                header = file_header
            elif file_header != header:
                raise ValueError(f"{datafile.name!r} has the columns {file_header}, expected {header}.")
            rows.extend(row for row in reader if row)
    return header or [], rows


def clean(header, rows, date):
    """Fix typos, use snake_case column names and add the recording date as the first column."""
    header = ["date"] + [snake_case(COLUMN_FIXES.get(name, name)) for name in header]
    return header, [[date] + row for row in rows]


def snake_case(name):
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name.strip())
    return re.sub(r"[^a-zA-Z0-9]+", "_", name).strip("_").lower()
