"""`RegisteredTemporaryDirectory`: Octue's temporary folder for an app's outputs, at `octue.utils.files`' path.

Octue registers each one in a module-level list so that its `Runner` can delete them after the analysis (with
`delete_local_files`) and so that `RegisteredTemporaryDirectory().name` stays on disk although the object itself is
dropped at once (a plain `tempfile.TemporaryDirectory` deletes its folder when it is garbage-collected). Here the
folder is made inside the process's temporary folder for the current question (`octue_beam.resources.cache`):
it lives until the question's answer is finalised (its output datasets uploaded) and is removed with the
question's folder, or at interpreter exit outside a question; `cleanup()` and a `with` block still remove it early.
"""

import tempfile

from octue_beam.resources import cache


class RegisteredTemporaryDirectory(tempfile.TemporaryDirectory):
    """A temporary folder that outlives this object: removed with the current question's temporary folder (or at
    exit), or by `cleanup()` / the end of a `with` block. `dir` defaults to that temporary folder."""

    def __init__(self, suffix: str | None = None, prefix: str | None = None, dir: str | None = None,
                 ignore_cleanup_errors: bool = False) -> None:
        super().__init__(suffix=suffix, prefix=prefix, dir=dir or cache.current_folder(),
                         ignore_cleanup_errors=ignore_cleanup_errors)
        # Not removed when garbage-collected: `RegisteredTemporaryDirectory().name` must stay usable.
        self._finalizer.detach()


__all__ = ["RegisteredTemporaryDirectory"]
