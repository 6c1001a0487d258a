"""Import Apache Beam for serving without pandas, pyarrow and pymongo, which Beam loads for integrations serving never
uses.

A service pipeline never uses them (it moves Pub/Sub messages and runs the app in a DoFn), yet they cost the
pipeline process of `run` about 70 MiB of memory and a second of start-up (measured: a bare `import
octue_beam.cli.serving` is 204 MiB of RSS, 161 MiB with pandas refused, 133 MiB with pyarrow refused too, 128 MiB with
pymongo too; `python -X importtime` shows pandas alone at ~2 s under load). How: `cli.beam_imports`.

`cli.serving` imports this module first: the pipeline process of a local `run` and a Dataflow submission. It changes
nothing when Beam was imported already (e.g. by `batch`, which uses pyarrow).
"""

from octue_beam.cli.beam_imports import UNUSED_BY_SERVING, import_beam, refusing

__all__ = ["UNUSED_BY_SERVING", "refusing"]

import_beam(UNUSED_BY_SERVING)
