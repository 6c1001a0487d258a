"""`octue-beam diagnostics CLOUD_PATH [--local-path DIR] [--download-datasets]`: fetch a question's diagnostics to
replay it as a test (`octue_beam.testing.load_test_fixture_from_diagnostics`)."""

import argparse
from typing import Any

from octue_beam.cli.arguments import CommandError
from octue_beam.storage.path import is_cloud_uri


def add_parser(subparsers: Any) -> None:
    """Register the `diagnostics` command."""
    parser = subparsers.add_parser(
        "diagnostics",
        help="Download the diagnostics a service saved for a question (to replay it as a test).",
        description=(
            "Download the diagnostics at CLOUD_PATH (gs://<diagnostics_cloud_path>/<question uuid>) into "
            "<local path>/<question uuid>/: configuration and input values and manifests, the questions the app asked "
            "its children with their events, and the question's logs. With --download-datasets the manifests' "
            "datasets are downloaded too and the manifests point at the local copies. Load the folder in a test with "
            "octue_beam.testing.load_test_fixture_from_diagnostics(path)."
        ),
    )
    parser.add_argument("cloud_path", metavar="CLOUD_PATH", help="gs://<diagnostics_cloud_path>/<question uuid>")
    parser.add_argument("--local-path", default=".", help="folder to download into (default: .)")
    parser.add_argument("--download-datasets", action="store_true", help="also download the manifests' datasets")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Download the diagnostics and print the folder they were saved in."""
    # Imported when the command runs, not with the parser: downloading loads the data resources and the Cloud
    # Storage client, which `--help` and the other commands do not need.
    from octue_beam.service.diagnostics import download_diagnostics

    if not is_cloud_uri(args.cloud_path):
        raise CommandError(
            "CLOUD_PATH must be a gs:// path (gs://<diagnostics_cloud_path>/<question uuid>); "
            f"got {args.cloud_path!r}."
        )
    directory = download_diagnostics(args.cloud_path, args.local_path, download_datasets=args.download_datasets)
    print(directory)
    return 0
