"""`octue-beam deploy dataflow SERVICE_DIR ...`: deploy a service revision as a streaming Dataflow job from a Flex
Template (octue_beam.deployment.dataflow).

Writes the revision's Flex Template spec, uploads it to the template location, and launches it through Dataflow's
Flex Templates API as the job named after the SRUID; `--update` replaces the job running that revision. `--dry-run`
prints the image build commands, the spec and the launch request, and touches no network.

For tests, `--api-endpoint` (hidden) or `$OCTUE_BEAM_DATAFLOW_ENDPOINT` points the Dataflow clients at another
endpoint; a plain `http://` one is a local stand-in for the API and is called with anonymous credentials. The spec is
uploaded with octue_beam's Cloud Storage client (the emulator when `$STORAGE_EMULATOR_HOST` is set).
"""

import argparse
import os
import re
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from octue_beam.cli.arguments import CommandError
from octue_beam.cli.deploy_cloud_run import image_tag

ENDPOINT_VARIABLE = "OCTUE_BEAM_DATAFLOW_ENDPOINT"
_TEMPLATE_LOCATION = re.compile(r"gs://(?P<bucket>[a-z0-9][a-z0-9._-]*[a-z0-9])/(?P<name>.*)")
_STREAMING_MODES = {"exactly-once": "EXACTLY_ONCE", "at-least-once": "AT_LEAST_ONCE"}
#: Parameters the command sets from its own options, never from --parameter.
_OWN_PARAMETERS = {
    "revision_tag": "--revision-tag",
    "service_dir": "--image-service-dir",
    "service_name": "--service",
    "sdk_container_image": "--image",
}


def add_parser(subparsers: Any) -> None:
    """Register `deploy dataflow`."""
    parser = subparsers.add_parser(
        "dataflow",
        help="Deploy a service revision as a streaming Dataflow job from a Flex Template.",
        description=(
            "Deploy the service in SERVICE_DIR to Dataflow: write its Flex Template spec (IMAGE for the launcher and "
            "the workers, one optional parameter per pipeline option of the service, streaming with exactly-once or "
            "at-least-once processing), upload it to --template-location, and launch the job named after the "
            "service revision's SRUID (namespace--name--revision-tag). An active job of that name is an error unless "
            "--update, which replaces it in place (and creates it when none runs). IMAGE must hold the service "
            "(`octue-beam dockerfile SERVICE_DIR --target dataflow`; --build builds and pushes it first). "
            "--dry-run prints the build commands, the spec and the launch request body and touches no network."
        ),
    )
    parser.add_argument("service_dir", metavar="SERVICE_DIR", help="folder of the service's octue.yaml")
    parser.add_argument("--project", required=True, help="Google Cloud project to run the job in")
    parser.add_argument("--region", required=True, help="Dataflow region (e.g. europe-west1)")
    parser.add_argument(
        "--template-location",
        required=True,
        metavar="GS_PATH",
        help="gs:// path to write the Flex Template spec to; a path ending in / gets <job name>.json appended",
    )
    parser.add_argument(
        "--image", required=True, help="container image of the service, for the launcher and the workers"
    )
    parser.add_argument(
        "--revision-tag",
        help=(
            "the revision's tag (default: $OCTUE_SERVICE_REVISION_TAG, else IMAGE's tag when it is not 'latest')"
        ),
    )
    parser.add_argument(
        "--service",
        metavar="NAME",
        help="which service of octue.yaml, when it lists several (passed to the template as service_name)",
    )
    parser.add_argument("--max-workers", type=_positive_int, metavar="N", help="most workers autoscaling may use")
    parser.add_argument("--machine-type", metavar="TYPE", help="worker machine type (e.g. n2-standard-2)")
    parser.add_argument("--service-account", metavar="EMAIL", help="service account of the launcher and workers")
    parser.add_argument(
        "--temp-location", metavar="GS_PATH", help="temporary files (default: gs://<template bucket>/dataflow/temp)"
    )
    parser.add_argument(
        "--staging-location",
        metavar="GS_PATH",
        help="staged files (default: gs://<template bucket>/dataflow/staging)",
    )
    parser.add_argument(
        "--streaming-mode",
        choices=sorted(_STREAMING_MODES),
        default="exactly-once",
        help=(
            "Dataflow's processing guarantee (default: exactly-once; the service answers each question once either "
            "way)"
        ),
    )
    parser.add_argument("--services-topic", metavar="TOPIC", help="services topic name or path (the template default)")
    parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="another template parameter (a pipeline option of the service, e.g. question_timeout=600); repeatable",
    )
    parser.add_argument(
        "--image-service-dir",
        metavar="PATH",
        help="where the service folder is inside IMAGE (default: where the default Dataflow Dockerfile puts it)",
    )
    parser.add_argument(
        "--build", action="store_true", help="build and push IMAGE first (the commands --dry-run prints)"
    )
    parser.add_argument("--python", metavar="VERSION", help="Python version of a generated Dockerfile (with --build)")
    parser.add_argument(
        "--octue-beam-requirement",
        metavar="REQUIREMENT",
        help="pip requirement of octue_beam in a generated Dockerfile (with --build; see the dockerfile command)",
    )
    parser.add_argument("--update", action="store_true", help="replace the active job of this revision, if any")
    parser.add_argument(
        "--validate-only", action="store_true", help="have Dataflow check the launch request without starting a job"
    )
    parser.add_argument("--dry-run", action="store_true", help="print what would be done; touch no network")
    parser.add_argument("--api-endpoint", default=None, help=argparse.SUPPRESS)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, make_clients: Callable[[str, str | None], Any] | None = None) -> int:
    """Deploy (or, with --dry-run, print the deployment); `make_clients(project, api_endpoint)` makes the clients
    (default: `octue_beam.deployment.dataflow.make_clients`)."""
    # Imported here, not with the parser: the Dataflow types, the Google clients and (for the template's parameters)
    # Beam are only needed when the command runs.
    from octue_beam.deployment import dataflow, flex_template, job_names
    from octue_beam.exceptions import OctueBeamError

    plan = _plan(args)
    try:
        spec = flex_template.container_spec(
            args.image, plan["sruid"], default_streaming_mode=_STREAMING_MODES[args.streaming_mode]
        )
    except OctueBeamError as error:
        raise CommandError(str(error)) from None
    job_name = job_names.job_name_for(plan["sruid"])
    template_location = _template_location(args.template_location, job_name)
    settings = dataflow.LaunchSettings(
        project=args.project,
        region=args.region,
        job_name=job_name,
        template_location=template_location,
        parameters=_parameters(args, plan, flex_template.parameter_names(spec)),
        temp_location=args.temp_location or _bucket_folder(template_location, "dataflow/temp"),
        staging_location=args.staging_location or _bucket_folder(template_location, "dataflow/staging"),
        max_workers=args.max_workers,
        machine_type=args.machine_type,
        service_account=args.service_account,
        streaming_mode=_STREAMING_MODES[args.streaming_mode],
        validate_only=args.validate_only,
    )
    text = flex_template.spec_text(spec)
    if args.dry_run:
        _print_dry_run(args, plan["sruid"], settings, text, _build_commands(args))
        return 0
    if args.build:
        _run_build(_build_commands(args))
    endpoint = args.api_endpoint or os.environ.get(ENDPOINT_VARIABLE) or None
    try:
        clients = (make_clients or dataflow.make_clients)(args.project, endpoint)
        outcome = dataflow.deploy(clients, settings, text, update=args.update)
    except OctueBeamError as error:
        raise CommandError(str(error)) from None
    print(f"Uploaded the Flex Template spec of {plan['sruid']} to {template_location}.")
    target = f"the job {job_name!r} in {args.project}/{args.region}"
    if outcome.validate_only:
        print(f"Dataflow validated {'an update' if outcome.updated else 'a launch'} of {target}; nothing was started.")
        return 0
    url = f"https://console.cloud.google.com/dataflow/jobs/{args.region}/{outcome.job.id}?project={args.project}"
    if outcome.updated:
        print(f"Updated {target}, replacing job {outcome.replaced_job_id}: job {outcome.job.id}, {url}")
    else:
        print(f"Launched {target}: job {outcome.job.id}, {url}")
    return 0


def _plan(args: argparse.Namespace) -> dict[str, Any]:
    """The service's SRUID and revision tag (read from octue.yaml; nothing is imported from the app)."""
    from octue_beam.exceptions import OctueBeamError
    from octue_beam.service.configuration import load_service_configuration

    if not os.path.isdir(args.service_dir):
        raise CommandError(f"SERVICE_DIR {args.service_dir!r} is not a folder.")
    revision_tag = args.revision_tag or os.environ.get("OCTUE_SERVICE_REVISION_TAG") or image_tag(args.image)
    if not revision_tag:
        raise CommandError(
            f"No revision tag for the service in {args.service_dir!r}: give --revision-tag (or set "
            f"$OCTUE_SERVICE_REVISION_TAG, or tag IMAGE {args.image!r} with it); each revision is its own Dataflow job."
        )
    try:
        configuration = load_service_configuration(
            args.service_dir, revision_tag=revision_tag, service_name=args.service
        )
        sruid = configuration.sruid
    except OctueBeamError as error:
        raise CommandError(str(error)) from None
    return {"sruid": sruid, "revision_tag": revision_tag}


def _template_location(location: str, job_name: str) -> str:
    """The spec's gs:// path: `location`, with `<job name>.json` appended when it ends in `/`."""
    match = _TEMPLATE_LOCATION.fullmatch(location)
    if not match:
        raise CommandError(
            f"--template-location must be a gs://bucket/path of the spec file (or a gs://bucket/folder/ ending in /); "
            f"got {location!r}."
        )
    if not match.group("name") or location.endswith("/"):
        return f"{location.rstrip('/')}/{job_name}.json"
    return location


def _bucket_folder(template_location: str, folder: str) -> str:
    bucket = _TEMPLATE_LOCATION.fullmatch(template_location).group("bucket")
    return f"gs://{bucket}/{folder}"


def _parameters(args: argparse.Namespace, plan: dict[str, Any], declared: list[str]) -> dict[str, str]:
    """The launch request's `parameters`: pipeline options of the launch entry, all declared by the spec, plus
    Beam's `sdk_container_image` (the workers run IMAGE too)."""
    parameters = {
        "service_dir": args.image_service_dir or _default_image_service_dir(),
        "revision_tag": plan["revision_tag"],
    }
    if args.service:
        parameters["service_name"] = args.service
    if args.services_topic:
        parameters["services_topic"] = args.services_topic
    for item in args.parameter:
        name, separator, value = item.partition("=")
        name = name.strip()
        if not separator or not name:
            raise CommandError(f"--parameter {item!r} is not NAME=VALUE.")
        if name in _OWN_PARAMETERS:
            raise CommandError(f"--parameter {name}=... is set by {_OWN_PARAMETERS[name]}; use that option instead.")
        if name not in declared:
            raise CommandError(
                f"--parameter {name!r} is not a parameter of the template; its parameters are the service's pipeline "
                f"options: {', '.join(sorted(declared))}."
            )
        parameters[name] = value
    parameters["sdk_container_image"] = args.image
    return parameters


def _default_image_service_dir() -> str:
    from octue_beam.deployment.dockerfiles import SERVICE_DIR_IN_IMAGE

    return SERVICE_DIR_IN_IMAGE


def _build_commands(args: argparse.Namespace) -> list[str]:
    from octue_beam.deployment.dockerfiles import build_commands
    from octue_beam.exceptions import OctueBeamError

    try:
        return build_commands(
            args.service_dir,
            "dataflow",
            args.image,
            python_version=args.python,
            octue_beam_requirement=args.octue_beam_requirement,
            service_name=args.service,
        )
    except (OctueBeamError, ValueError) as error:
        raise CommandError(str(error)) from None


def _run_build(commands: list[str]) -> None:
    """Run the build and push commands in order (in a shell, as printed), stopping at the first that fails. Their
    `python` is this interpreter's (its folder first on PATH), which has octue_beam even when its venv is not
    activated."""
    path = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    for command in commands:
        print(f"$ {command}", flush=True)
        completed = subprocess.run(command, shell=True, env={**os.environ, "PATH": path})
        if completed.returncode != 0:
            raise CommandError(f"Building the image failed: {command!r} exited with code {completed.returncode}.")


def _print_dry_run(args: argparse.Namespace, sruid: str, settings: Any, spec: str, commands: list[str]) -> None:
    from octue_beam.deployment import dataflow

    body = dataflow.request_json(dataflow.launch_request_body(dataflow.launch_request(settings)))
    endpoint = args.api_endpoint or os.environ.get(ENDPOINT_VARIABLE) or dataflow.DEFAULT_ENDPOINT
    print(f"# Dry run: {sruid} as the Dataflow job {settings.job_name!r} in {settings.project}/{settings.region}.")
    print("# Build and push the image (what --build runs):")
    for command in commands:
        print(command)
    print(f"# Flex Template spec, uploaded to {settings.template_location}:")
    print(spec, end="")
    print(f"# Launch request: POST {endpoint}{dataflow.launch_path(settings.project, settings.region)}")
    if args.update:
        print(
            f'# With --update it is sent with "update": true when a job named {settings.job_name!r} is active '
            "(JobsV1Beta3.ListJobs, filter ACTIVE); as shown when none is."
        )
    print(body)


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number.") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} must be at least 1.")
    return number
