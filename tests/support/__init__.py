"""Helpers shared by the tests (not tests themselves).

- `tests.support.paths`: `REPOSITORY` (the repository's root) and `FIXTURES` (the test services in
  tests/pipeline/fixtures).
- `tests.support.service_dirs`: `write_service(folder, ...)` writes a small service into a folder.
- `tests.support.wire`: the wire protocol spoken directly: `octue_question(...)` builds a question as Octue 0.69 does,
  `Listener` collects the response events sent to one parent.

Services are served in a subprocess with the shipped `octue_beam.testing.LocalService`.
"""
