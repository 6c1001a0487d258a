"""What `events get` and `events replay` share: the store options (`--store DIR | --table T`) and reading a store,
with its errors as one-line command errors.

`--table PROJECT.DATASET.TABLE` reads BigQuery with the environment's credentials; for tests, the hidden
`--api-endpoint` or `$OCTUE_BEAM_BIGQUERY_ENDPOINT` points the BigQuery client at another endpoint with anonymous
credentials. The store reader (pyarrow, and the BigQuery client for a table) is imported when a command runs.
"""

import argparse
import os
from typing import Any

from octue_beam.cli.arguments import CommandError

ENDPOINT_VARIABLE = "OCTUE_BEAM_BIGQUERY_ENDPOINT"
DEFAULT_STORE = os.path.join(".octue-beam", "events")


def add_store_arguments(parser: argparse.ArgumentParser) -> None:
    """`--store DIR | --table PROJECT.DATASET.TABLE` (and `--project`, the hidden `--api-endpoint`)."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--store",
        metavar="DIR",
        help=f"the local event store: the folder record-events writes (default: {DEFAULT_STORE})",
    )
    where.add_argument(
        "--table",
        metavar="PROJECT.DATASET.TABLE",
        help="read a BigQuery event store instead (DATASET.TABLE: in --project; e.g. Octue's "
        "octue_twined.service-events)",
    )
    parser.add_argument("--project", help="Google Cloud project of a --table without one (default: the configured one)")
    parser.add_argument("--api-endpoint", dest="api_endpoint", help=argparse.SUPPRESS)


def store_of(args: argparse.Namespace) -> str:
    """The store to read, as `read_events` takes it."""
    return f"bigquery:{args.table}" if args.table else (args.store or DEFAULT_STORE)


def read(args: argparse.Namespace, **filters: Any) -> list[dict]:
    """The rows of the command's store that pass `filters` (`read_events`' keywords); bad filters, a missing store
    and BigQuery errors become a CommandError."""
    from octue_beam.events.store import read_events

    client = _bigquery_client(args) if args.table else None
    try:
        return read_events(store_of(args), client=client, **filters)
    except (FileNotFoundError, ValueError) as error:
        raise CommandError(str(error)) from None
    except Exception as error:
        if type(error).__module__.startswith("google."):
            message = getattr(error, "message", None) or str(error)
            raise CommandError(f"reading {store_of(args)} failed: {type(error).__name__}: {message}") from None
        raise


def _bigquery_client(args: argparse.Namespace) -> Any:
    """A BigQuery client for the table's project: the environment's, or an anonymous one for another endpoint."""
    from google.cloud import bigquery

    from octue_beam.environment import configured_project
    from octue_beam.events.bigquery import parse_table_id

    try:
        table_project, _, _ = parse_table_id(args.table)
    except ValueError as error:
        raise CommandError(f"--table: {error}") from None
    project = table_project or configured_project(args.project)
    endpoint = args.api_endpoint or os.environ.get(ENDPOINT_VARIABLE)
    if endpoint:
        from google.auth.credentials import AnonymousCredentials

        return bigquery.Client(
            project=project or "anonymous",
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": endpoint},
        )
    if project is None:
        raise CommandError(f"--table {args.table} names no project: write PROJECT.DATASET.TABLE, or give --project")
    return bigquery.Client(project=project)
