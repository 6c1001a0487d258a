"""Import Apache Beam for serving without pandas and pyarrow, which Beam loads for integrations serving never uses.

`import apache_beam` imports pandas and pyarrow whenever they are installed: `apache_beam.typehints` registers its
pandas and Arrow type converters and `apache_beam.io` loads `parquetio`. A service pipeline never uses them (it
moves Pub/Sub messages and runs the app in a DoFn), yet they cost the pipeline process of `run` about 70 MiB of
memory and a second of start-up (measured: a bare `import octue_beam.cli.serving` is 204 MiB of RSS, 161 MiB with
pandas refused, 133 MiB with pyarrow refused too; `python -X importtime` shows pandas alone at ~2 s under load).

Importing this module imports Beam with those two refused (an ImportError, as if they were not installed, which Beam
handles: its integrations stay off in this process) and then lifts the refusal at once, so an app that imports pandas
or pyarrow itself gets them as usual. `cli.serving` imports it first: the pipeline process of a local `run` and a
Dataflow submission. It changes nothing when Beam was imported already (e.g. by `batch`, which uses pyarrow).
"""

import contextlib
import importlib.abc
import sys
from collections.abc import Iterator

#: Top-level modules Beam imports only for integrations a service pipeline never uses.
UNUSED_BY_SERVING = ("pandas", "pyarrow")


class _Refuse(importlib.abc.MetaPathFinder):
    """Finds nothing, and refuses the modules of `names` (and their submodules)."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = set(names)

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> None:
        if fullname.partition(".")[0] in self.names:
            raise ImportError(f"{fullname} is not imported with Beam for serving (octue_beam.cli.lean_beam)")
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


if "apache_beam" not in sys.modules:
    with refusing(UNUSED_BY_SERVING):
        import apache_beam  # noqa: F401 - the import this module exists for
