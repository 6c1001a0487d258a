"""`octue-beam deploy TARGET SERVICE_DIR ...`: deploy a service (docs/deployment.md).

Each target is a module of this package with `add_parser(subparsers)` registering `deploy <target>` and its handler;
it imports the Google client libraries (the `deploy` extra) only when its handler runs.
"""

from types import ModuleType
from typing import Any

from octue_beam.cli import deploy_cloud_build, deploy_cloud_run, deploy_dataflow

TARGETS: tuple[ModuleType, ...] = (deploy_cloud_run, deploy_dataflow, deploy_cloud_build)


def add_parser(subparsers: Any) -> None:
    """Register the `deploy` command and one subcommand per target."""
    parser = subparsers.add_parser(
        "deploy",
        help="Deploy a service to Cloud Run or Dataflow, or write the build that redeploys it on every push.",
        description=(
            "Deploy the service in SERVICE_DIR: `deploy cloud-run` (serverless, the default target: nothing runs while "
            "no question arrives), `deploy dataflow` (a streaming Beam job from a Flex Template), or `deploy "
            "cloud-build` (a cloudbuild.yaml or GitHub Actions workflow that builds and deploys each push to main). "
            "Every target has --dry-run, which prints what it would do and touches no network. See "
            "docs/deployment.md."
        ),
    )
    targets = parser.add_subparsers(dest="target", metavar="TARGET", required=True, parser_class=type(parser))
    for target in TARGETS:
        target.add_parser(targets)
