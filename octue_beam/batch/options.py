"""`BatchOptions`: the pipeline options of a batch (`--questions`, `--answers`).

The service's own options are `ServiceOptions` (`octue_beam.pipeline.options`), shared with the streaming pipeline:
a batch reads `--service_dir` (the service folder on the workers), `--service_name`, `--revision_tag`,
`--max_concurrent_questions` (questions answered at once by each worker process), `--question_timeout` and
`--max_message_bytes` from them; the Pub/Sub options are not used.
"""

from apache_beam.options.pipeline_options import PipelineOptions


class BatchOptions(PipelineOptions):
    """Where a batch reads its questions and writes its answers."""

    @classmethod
    def _add_argparse_args(cls, parser) -> None:  # Beam's parser type
        parser.add_argument(
            "--questions",
            default=None,
            help="The questions file: JSON lines (.jsonl, .ndjson, .json, optionally .gz) or Parquet (.parquet), local "
            "or gs://...",
        )
        parser.add_argument(
            "--answers",
            default=None,
            help="The answers file to write (one row per question): JSON lines or Parquet, by its name.",
        )
