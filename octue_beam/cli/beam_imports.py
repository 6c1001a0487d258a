"""Importing Apache Beam without integrations a command never uses (no side effect: `cli.lean_beam` is the import
that does it for serving; `batch` calls `import_beam` itself).

`import apache_beam` imports pandas and pyarrow whenever they are installed: `apache_beam.typehints` registers its
pandas and Arrow type converters and `apache_beam.io` loads `parquetio`. Refusing them while Beam is imported (an
ImportError, as if they were not installed, which Beam handles: its integrations stay off in this process) and
lifting the refusal at once saves their memory and start-up, and an app that imports them itself still gets them.
"""

import contextlib
import importlib.abc
import sys
from collections.abc import Iterator

from octue_beam.cli.quiet_logs import quietened

#: Top-level modules Beam imports only for integrations a service pipeline never uses (pandas and Arrow type
#: converters, Parquet, MongoDB: pymongo and its bson).
UNUSED_BY_SERVING = ("pandas", "pyarrow", "pymongo", "bson")
#: Those a batch never uses (it reads and writes Parquet with pyarrow, never pandas).
UNUSED_BY_BATCH = ("pandas", "pymongo", "bson")
#: Those a batch on the local runner never uses either: Dataflow's API client and BigQuery (Beam's BigQuery IO, the
#: client and its Storage API). A third of Beam's import, and the job builds and runs sooner without them (a
#: 1,000-question batch took 2.7 s instead of 3.3, medians of five). A batch reading recorded questions from a
#: BigQuery table still imports the client, after Beam.
UNUSED_BY_LOCAL_BATCH = (
    *UNUSED_BY_BATCH,
    "google.cloud.dataflow",
    "google.cloud.dataflow_v1beta3",
    "google.cloud.bigquery",
    "google.cloud.bigquery_storage_v1",
    "apache_beam.io.gcp.bigquery",
)
#: Beam's loggers that warn when a refused module is missing, quietened while Beam is imported.
_WARN_WHEN_MISSING = ("apache_beam.io.mongodbio",)


class _Refuse(importlib.abc.MetaPathFinder):
    """Finds nothing, and refuses the modules of `names` (and their submodules; a name may be dotted)."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = set(names)

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> None:
        parts = fullname.split(".")
        if any(".".join(parts[:end]) in self.names for end in range(1, len(parts) + 1)):
            raise ImportError(f"{fullname} is not imported with Beam here (octue_beam.cli.beam_imports)")
        return None


@contextlib.contextmanager
def refusing(names: tuple[str, ...]) -> Iterator[None]:
    """Within the block, importing any of `names` not imported yet raises ImportError."""
    finder = _Refuse(tuple(name for name in names if name not in sys.modules))
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)


def import_beam(unused: tuple[str, ...]) -> None:
    """Import Beam with the modules `unused` refused; nothing when Beam was imported already."""
    if "apache_beam" in sys.modules:
        return
    with quietened(_WARN_WHEN_MISSING), refusing(unused):
        import apache_beam  # noqa: F401 - the import this function exists for
