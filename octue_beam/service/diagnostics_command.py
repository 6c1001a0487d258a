"""`python -m octue_beam diagnostics CLOUD_PATH [--local-path DIR] [--download-datasets]`: fetch a question's
diagnostics to replay it as a test (`octue_beam.testing.load_test_fixture_from_diagnostics`)."""

import argparse
from typing import Any


def add_diagnostics_parser(subparsers: Any) -> None:
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
    parser.set_defaults(handler=_diagnostics)


def _diagnostics(args: argparse.Namespace) -> int:
    from octue_beam.service.diagnostics import download_diagnostics
    from octue_beam.storage.path import is_cloud_uri

    if not is_cloud_uri(args.cloud_path):
        from octue_beam.cli import CommandError

        raise CommandError(f"CLOUD_PATH must be a gs:// path (gs://<diagnostics_cloud_path>/<question uuid>); got {args.cloud_path!r}.")
    directory = download_diagnostics(args.cloud_path, args.local_path, download_datasets=args.download_datasets)
    print(directory)
    return 0
