"""`octue-beam deploy cloud-build SERVICE_DIR --target cloud-run|dataflow ...`: redeploy a service on every push to
main (octue_beam.deployment.cloud_build and .github_actions).

Writes the `cloudbuild.yaml` that builds the service's image, pushes it and deploys the revision of the commit
(`python -m octue_beam deploy <target> ...` with the options given after `--`, checked here against that command),
and prints the `gcloud builds triggers create github ...` command that runs it on each push; `--create-trigger`
creates (or updates) that trigger through the Cloud Build API instead. `--github-actions FILE` also writes the same
as a GitHub Actions workflow. `--dry-run` prints the files and the trigger instead of writing or creating them.

For tests, `--api-endpoint` (hidden) or `$OCTUE_BEAM_CLOUD_BUILD_ENDPOINT` points the Cloud Build client at another
endpoint; a plain `http://` one is a local stand-in for the API and is called with anonymous credentials.
"""

import argparse
import json
import os
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

from octue_beam.cli.arguments import CommandError

ENDPOINT_VARIABLE = "OCTUE_BEAM_CLOUD_BUILD_ENDPOINT"
TARGETS = ("cloud-run", "dataflow")
#: The revision tag the target options are checked with (the build gives the real one).
_CHECKING_TAG = "checking"


def add_parser(subparsers: Any) -> None:
    """Register `deploy cloud-build`."""
    parser = subparsers.add_parser(
        "cloud-build",
        unknown_options_dest="target_options",
        help="Write the Cloud Build config (or GitHub Actions workflow) that redeploys a service on every push.",
        description=(
            "Write a cloudbuild.yaml that builds the image of the service in SERVICE_DIR, pushes it as "
            "IMAGE:<revision tag> and deploys that revision with `python -m octue_beam deploy TARGET`, giving it every "
            "option this command does not know itself (e.g. --push-service-account EMAIL for cloud-run, "
            "--template-location gs://... for dataflow; checked now against `deploy TARGET`; give SERVICE_DIR first). "
            "The revision tag is the commit's short SHA ($SHORT_SHA) unless "
            "--revision-tag says otherwise, so every push to the branch is a new revision. Prints the `gcloud builds "
            "triggers create github` command that runs the file on each push to the branch, or creates that trigger "
            "with --create-trigger. --github-actions FILE writes the same as a GitHub Actions workflow. The service's "
            "own Dockerfile (dockerfile_path in octue.yaml) is used when it has one, else the default is generated "
            "during the build."
        ),
    )
    parser.add_argument("service_dir", metavar="SERVICE_DIR", help="folder of the service's octue.yaml")
    parser.add_argument("--target", required=True, choices=TARGETS, help="where the service is deployed")
    parser.add_argument("--project", required=True, help="Google Cloud project to deploy to (and of the trigger)")
    parser.add_argument("--region", required=True, help="region to deploy to (e.g. europe-west1)")
    parser.add_argument(
        "--image",
        required=True,
        help="image name without a tag (e.g. europe-west1-docker.pkg.dev/PROJECT/REPOSITORY/NAME); each build tags "
        "it with the revision tag",
    )
    parser.add_argument(
        "--revision-tag",
        help="revision tag of each build (default: $SHORT_SHA in Cloud Build, the commit's short SHA in GitHub "
        "Actions); Cloud Build substitutions such as $TAG_NAME are kept",
    )
    parser.add_argument("--service", metavar="NAME", help="which service of octue.yaml, when it lists several")
    parser.add_argument("--python", metavar="VERSION", help="Python version of the build and of a generated Dockerfile")
    parser.add_argument(
        "--octue-beam-requirement",
        metavar="REQUIREMENT",
        help="pip requirement octue_beam is installed from in the build and the image (default: "
        "octue_beam==<this version>), e.g. 'octue_beam @ git+https://github.com/OWNER/octue_beam@TAG'",
    )
    parser.add_argument(
        "--repository-root",
        metavar="DIR",
        help="root of the repository the build checks out (default: the git work tree holding SERVICE_DIR)",
    )
    parser.add_argument(
        "--output",
        metavar="FILE",
        help="where to write the Cloud Build config (default: <repository root>/cloudbuild.yaml)",
    )
    parser.add_argument(
        "--github-actions",
        metavar="FILE",
        help="also write the GitHub Actions workflow (e.g. .github/workflows/deploy.yml)",
    )
    parser.add_argument("--branch", default="main", help="branch whose pushes deploy (default: main)")
    parser.add_argument("--repo-owner", help="GitHub owner of the repository (for the trigger)")
    parser.add_argument("--repo-name", help="GitHub name of the repository (for the trigger)")
    parser.add_argument(
        "--create-trigger",
        action="store_true",
        help="create (or update) the Cloud Build trigger now, instead of printing the gcloud command",
    )
    parser.add_argument("--trigger-name", help="name of the trigger (default: deploy-<namespace>-<name>-<target>)")
    parser.add_argument("--trigger-region", default="global", help="region of the trigger (default: global)")
    parser.add_argument(
        "--deployer",
        metavar="EMAIL",
        help="service account the triggered builds run as and the GitHub workflow authenticates as (default: Cloud "
        "Build's default; the workflow's repository variable GCP_DEPLOYER_SERVICE_ACCOUNT)",
    )
    parser.add_argument(
        "--workload-identity-provider",
        metavar="PROVIDER",
        help="the GitHub workflow's Workload Identity provider, projects/NUMBER/locations/global/"
        "workloadIdentityPools/POOL/providers/PROVIDER (default: the repository variable "
        "GCP_WORKLOAD_IDENTITY_PROVIDER)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print the files and the trigger; write, create and touch nothing"
    )
    parser.add_argument("--api-endpoint", default=None, help=argparse.SUPPRESS)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, make_client: Callable[[str | None], Any] | None = None) -> int:
    """Write (or print) the build files and create (or print) the trigger; `make_client(api_endpoint)` makes the
    Cloud Build client (default: `octue_beam.deployment.cloud_build.make_client`)."""
    # Imported here, not with the parser: the Cloud Build client is only needed when the command runs.
    from octue_beam.deployment import cloud_build, github_actions
    from octue_beam.exceptions import OctueBeamError

    args.target_options = [option for option in args.target_options if option != "--"]
    plan, root = _plan(args)
    _check_target_options(args)
    command = _command_line(args)
    output = Path(args.output) if args.output else root / "cloudbuild.yaml"
    build_config = _relative_to(output, root, "--output")
    texts = {output: cloud_build.cloudbuild_text(plan, command)}
    if args.github_actions:
        texts[Path(args.github_actions)] = github_actions.workflow_text(
            plan, command, args.branch, args.workload_identity_provider, args.deployer
        )
    for path, text in texts.items():
        if args.dry_run:
            print(f"# {path}:")
            print(text, end="")
        else:
            _write(path, text)
            print(f"Wrote {path}.")

    if args.create_trigger and not (args.repo_owner and args.repo_name):
        raise CommandError("--create-trigger needs --repo-owner and --repo-name (the GitHub repository to watch).")
    configuration_prefix = plan.sruid_prefix
    settings = cloud_build.TriggerSettings(
        project=args.project,
        name=args.trigger_name or cloud_build.trigger_name_for(configuration_prefix, args.target),
        repo_owner=args.repo_owner or "OWNER",
        repo_name=args.repo_name or "REPOSITORY",
        build_config=build_config,
        branch=args.branch,
        location=args.trigger_region,
        service_account=args.deployer,
        description=f"Deploy {configuration_prefix} ({args.target}) on each push to {args.branch}",
    )
    if not args.create_trigger:
        note = "" if args.repo_owner and args.repo_name else " (with your repository's OWNER and REPOSITORY)"
        print(f"Run the build on each push to {args.branch} by creating its trigger{note}:")
        print(cloud_build.trigger_command(settings))
        return 0
    if args.dry_run:
        trigger = cloud_build.build_trigger(settings)
        print(f"# Trigger: create_build_trigger in {settings.parent} (update_build_trigger when it exists):")
        print(json.dumps(cloud_build.trigger_as_dict(trigger), indent=2))
        return 0
    endpoint = args.api_endpoint or os.environ.get(ENDPOINT_VARIABLE) or None
    try:
        client = (make_client or cloud_build.make_client)(endpoint)
        action, trigger = cloud_build.create_or_update_trigger(client, settings)
    except OctueBeamError as error:
        raise CommandError(str(error)) from None
    print(
        f"Cloud Build trigger {settings.name!r} {action} in {settings.parent}: pushes to {args.branch} of "
        f"{args.repo_owner}/{args.repo_name} run {build_config}."
    )
    return 0


def _plan(args: argparse.Namespace) -> tuple[Any, Path]:
    """The build plan and the repository root, from the arguments and the service's octue.yaml."""
    from octue_beam.deployment import cloud_build, dockerfiles
    from octue_beam.exceptions import OctueBeamError
    from octue_beam.service.configuration import load_service_configuration

    if not os.path.isdir(args.service_dir):
        raise CommandError(f"SERVICE_DIR {args.service_dir!r} is not a folder.")
    try:
        configuration = load_service_configuration(
            args.service_dir, revision_tag=_CHECKING_TAG, service_name=args.service
        )
        python_version = dockerfiles.check_python_version(args.python)
        requirement = args.octue_beam_requirement or dockerfiles.default_octue_beam_requirement()
        cloud_build.deploy_requirements(requirement)
    except (OctueBeamError, ValueError) as error:
        raise CommandError(str(error)) from None
    root = Path(args.repository_root).resolve() if args.repository_root else _repository_root(args.service_dir)
    service_dir = _relative_to(Path(args.service_dir), root, "SERVICE_DIR")
    dockerfile = None
    if configuration.dockerfile_path is not None:
        if not configuration.dockerfile_path.is_file():
            raise CommandError(
                f"{configuration.source}: dockerfile_path: the Dockerfile {str(configuration.dockerfile_path)!r} does "
                "not exist."
            )
        dockerfile = _relative_to(configuration.dockerfile_path, root, "the service's dockerfile_path")
    try:
        plan = cloud_build.BuildPlan(
            target=args.target,
            service_dir=service_dir,
            project=args.project,
            region=args.region,
            image=args.image,
            sruid_prefix=f"{configuration.namespace}/{configuration.name}",
            service=args.service,
            dockerfile=dockerfile,
            revision_tag=args.revision_tag,
            python_version=python_version,
            octue_beam_requirement=requirement,
            target_options=tuple(args.target_options),
        )
    except ValueError as error:
        raise CommandError(str(error)) from None
    return plan, root


def _check_target_options(args: argparse.Namespace) -> None:
    """Parse the deploy step's command line with `deploy TARGET`'s own parser, so a wrong or missing option of the
    target is an error now rather than in the first build."""
    from octue_beam.cli import build_parser

    arguments = [
        "deploy", args.target, args.service_dir, "--project", args.project, "--region", args.region,
        "--image", f"{args.image}:{_CHECKING_TAG}", "--revision-tag", _CHECKING_TAG,
    ]
    if args.service:
        arguments += ["--service", args.service]
    try:
        build_parser().parse_args(arguments + list(args.target_options))
    except SystemExit:
        shown = shlex.join(args.target_options) or "none"
        raise CommandError(
            f"The options for the deploy step ({shown}) are not what `deploy {args.target}` takes (its error is "
            f"above; `python -m octue_beam deploy {args.target} --help` lists them)."
        ) from None


def _repository_root(service_dir: str) -> Path:
    """The git work tree holding the service folder (the folder the build checks out)."""
    folder = Path(service_dir).resolve()
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    raise CommandError(
        f"SERVICE_DIR {service_dir!r} is not inside a git repository, so where the build finds it is unknown: give "
        "--repository-root (the folder the build checks out)."
    )


def _relative_to(path: Path, root: Path, what: str) -> str:
    """`path` relative to the repository root, in POSIX form (`.` for the root)."""
    try:
        return path.resolve().relative_to(root).as_posix() or "."
    except ValueError:
        raise CommandError(f"{what} {str(path)!r} is not inside the repository root {str(root)!r}.") from None


def _write(path: Path, text: str) -> None:
    """Write a generated file; a file there that octue_beam did not generate is never replaced."""
    from octue_beam.deployment.cloud_build import GENERATED_MARKER

    if path.exists() and not path.read_text(encoding="utf-8").startswith(GENERATED_MARKER):
        raise CommandError(f"{path} exists and was not generated by octue_beam: move it away or choose another path.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise CommandError(f"Cannot write {path}: {error.strerror or error}.") from None


def _command_line(args: argparse.Namespace) -> str:
    """The command that writes the file (for its header), with the options that shape it."""
    arguments = ["python", "-m", "octue_beam", "deploy", "cloud-build", args.service_dir, "--target", args.target]
    for option in ("project", "region", "image", "revision_tag", "service", "python", "octue_beam_requirement",
                   "branch"):
        value = getattr(args, option)
        if value is not None and not (option == "branch" and value == "main"):
            arguments += [f"--{option.replace('_', '-')}", value]
    arguments += args.target_options
    return shlex.join(arguments)
