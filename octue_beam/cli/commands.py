"""The commands of `octue-beam`, in the order `--help` lists them.

Each command is one module of this package with `add_parser(subparsers)`, which registers its arguments and sets
`handler(args) -> exit code`. To add one, write
`cli/<name>.py` and list it here. A command module imports only argparse and light modules at its top, so that
`--help` and the other commands start fast; its handler imports what does the work (Beam, the Google clients)
when it runs.
"""

from types import ModuleType

from octue_beam.cli import (
    ask,
    ask_local,
    batch,
    deploy,
    diagnostics,
    dockerfile,
    events,
    init,
    port,
    record_events,
    run,
    serve,
)

COMMANDS: tuple[ModuleType, ...] = (
    ask_local, run, serve, ask, batch, diagnostics, events, record_events, dockerfile, deploy, port, init
)
