"""`octue-beam deploy cloud-run SERVICE_DIR ...`: deploy a service revision as a Google Cloud Run service that Pub/Sub
pushes its questions to (octue_beam.deployment.cloud_run and .push_subscription).

Creates or updates the Cloud Run service of the revision (one per revision, named after its SRUID), lets the push
service account invoke it, and creates or updates the revision's push subscription on the services topic (the topic
too when the project has none yet). `--dry-run` prints the image build commands, the Cloud Run service request, the
IAM binding and the subscription, and touches no network.

For tests, `--api-endpoint` (hidden) or `$OCTUE_BEAM_CLOUD_RUN_ENDPOINT` points the Cloud Run client at another
endpoint; a plain `http://` one is a local stand-in for the API and is called with anonymous credentials. Pub/Sub is
the emulator when `$PUBSUB_EMULATOR_HOST` is set, as everywhere in octue_beam.
"""

import argparse
import json
import os
from collections.abc import Callable
from typing import Any

from octue_beam.cli.arguments import CommandError

ENDPOINT_VARIABLE = "OCTUE_BEAM_CLOUD_RUN_ENDPOINT"
PUBLIC_ENDPOINT = "https://run.googleapis.com"
#: What the dry run shows where the service's URI goes: Cloud Run gives it when the service is created.
URI_PLACEHOLDER = "<the Cloud Run service's URI>"


def add_parser(subparsers: Any) -> None:
    """Register `deploy cloud-run`."""
    parser = subparsers.add_parser(
        "cloud-run",
        help="Deploy a service revision to Cloud Run, with the push subscription that sends it its questions.",
        description=(
            "Deploy the service in SERVICE_DIR to Cloud Run: create (or update) the Cloud Run service of this "
            "revision, named after its SRUID (one service per revision, so older revisions keep answering the "
            "parents that ask them), running IMAGE with `python -m octue_beam serve`, scaled to zero when no question "
            "arrives, reachable only from inside the project and only with IAM; make the push service account an "
            "invoker of it; then create (or update) the revision's push subscription on the services topic, filtered "
            "on the SRUID, pushing to the service's URI with an OIDC token of that account. IMAGE must hold the "
            "service (`octue-beam dockerfile SERVICE_DIR --target cloud-run`; --dry-run prints the commands that "
            "build and push it). --dry-run prints what would be done and touches no network."
        ),
    )
    parser.add_argument("service_dir", metavar="SERVICE_DIR", help="folder of the service's octue.yaml")
    parser.add_argument("--project", required=True, help="Google Cloud project of the service and its subscription")
    parser.add_argument("--region", required=True, help="Cloud Run region (e.g. europe-west1)")
    parser.add_argument("--image", required=True, help="container image of the service (with its tag)")
    parser.add_argument(
        "--revision-tag",
        help="the revision's tag (default: $OCTUE_SERVICE_REVISION_TAG, else IMAGE's tag when it is not 'latest')",
    )
    parser.add_argument("--service", metavar="NAME", help="which service of octue.yaml, when it lists several")
    parser.add_argument(
        "--service-account", metavar="EMAIL", help="identity the service runs as (default: Cloud Run's default)"
    )
    parser.add_argument(
        "--push-service-account",
        metavar="EMAIL",
        help=(
            "identity Pub/Sub pushes questions as (an OIDC token; made an invoker of the service). Default: "
            "--service-account. One of the two is needed"
        ),
    )
    parser.add_argument("--max-instances", type=_positive_int, metavar="N", help="most instances (default: 10)")
    parser.add_argument(
        "--concurrency",
        type=_positive_int,
        metavar="N",
        help="questions one instance answers at once (default: 10, the service's default number of slots)",
    )
    parser.add_argument("--memory", help="memory of an instance (default: 512Mi)")
    parser.add_argument("--cpu", help="CPUs of an instance (default: 1)")
    parser.add_argument(
        "--timeout",
        type=_positive_int,
        metavar="SECONDS",
        help=(
            "request timeout, at most 3600 (default: the service's question time limit plus 60 s for its "
            "time-limit answer, at most 3600)"
        ),
    )
    parser.add_argument(
        "--ingress",
        choices=("internal", "all", "internal-and-cloud-load-balancing"),
        help="who may reach the service's URL (default: internal, which Pub/Sub in the same project is)",
    )
    parser.add_argument(
        "--services-topic",
        metavar="TOPIC",
        help="services topic name, or its path in --project (default: $TWINED_SERVICES_TOPIC_NAME, else "
        "main.octue.twined.services)",
    )
    parser.add_argument("--python", metavar="VERSION", help="Python version of a generated Dockerfile (--dry-run)")
    parser.add_argument("--dry-run", action="store_true", help="print what would be done; touch no network")
    parser.add_argument("--api-endpoint", default=None, help=argparse.SUPPRESS)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, make_clients: Callable[[str | None], Any] | None = None) -> int:
    """Deploy (or, with --dry-run, print the deployment); `make_clients(api_endpoint)` makes the clients (default:
    `octue_beam.deployment.cloud_run.make_clients`)."""
    # Imported here, not with the parser: the Google clients are only needed when the command runs.
    from octue_beam.deployment import cloud_run, push_subscription
    from octue_beam.exceptions import OctueBeamError

    configuration = load_configuration(args)
    topic_name = _topic_name(args.services_topic, args.project)
    push_account = args.push_service_account or args.service_account
    if not push_account:
        raise CommandError(
            "Give --push-service-account (or --service-account): Pub/Sub pushes questions with an OIDC token of that "
            "service account, which is made an invoker of the service; the service accepts no unauthenticated "
            "requests."
        )
    try:
        chosen = {
            key: getattr(args, key)
            for key in ("max_instances", "concurrency", "memory", "cpu", "timeout", "ingress")
            if getattr(args, key) is not None
        }
        settings = cloud_run.CloudRunSettings(image=args.image, service_account=args.service_account, **chosen)
    except ValueError as error:
        raise CommandError(str(error)) from None
    sruid = configuration.sruid
    name = cloud_run.service_name_for(sruid)
    service = cloud_run.build_service(configuration, args.project, topic_name, settings)
    if args.dry_run:
        subscription = push_subscription.push_subscription(
            args.project, sruid, URI_PLACEHOLDER, push_account, topic_name
        )
        _print_dry_run(args, sruid, name, service, subscription, push_account)
        return 0

    endpoint = args.api_endpoint or os.environ.get(ENDPOINT_VARIABLE) or None
    try:
        clients = (make_clients or cloud_run.make_clients)(endpoint)
    except OctueBeamError as error:
        raise CommandError(str(error)) from None
    try:
        topic = f"projects/{args.project}/topics/{topic_name}"
        if push_subscription.ensure_topic(clients.publisher, topic):
            print(f"Created the services topic {topic}.")
        # A subscription of this name that cannot become this revision's stops the deployment before it starts.
        push_subscription.existing_subscription(
            clients.subscriber, push_subscription.push_subscription(args.project, sruid, "", push_account, topic_name)
        )
        action, deployed = cloud_run.deploy_service(clients.services, args.project, args.region, name, service, sruid)
        print(f"Cloud Run service {deployed.name or name} {action} for {sruid}: {deployed.uri}")
        path = cloud_run.service_path(args.project, args.region, name)
        if cloud_run.grant_invoker(clients.services, path, push_account):
            print(f"Made serviceAccount:{push_account} an invoker ({cloud_run.INVOKER_ROLE}) of {name}.")
        if not deployed.uri:
            raise CommandError(f"Cloud Run deployed {path} but gave it no URI to push questions to.")
        subscription = push_subscription.push_subscription(args.project, sruid, deployed.uri, push_account, topic_name)
        action, _ = push_subscription.ensure_push_subscription(clients.subscriber, subscription)
        print(f"Push subscription {subscription.name} {action}: questions to {sruid} are pushed to {deployed.uri}.")
    except OctueBeamError as error:
        raise CommandError(str(error)) from None
    finally:
        clients.close()
    return 0


def load_configuration(args: argparse.Namespace) -> Any:
    """The service's configuration with the revision tag of --revision-tag, else $OCTUE_SERVICE_REVISION_TAG, else
    IMAGE's tag (not `latest`); a deployment needs one, so none is a CommandError."""
    from octue_beam.exceptions import OctueBeamError
    from octue_beam.service.configuration import load_service_configuration

    if not os.path.isdir(args.service_dir):
        raise CommandError(f"SERVICE_DIR {args.service_dir!r} is not a folder.")
    revision_tag = args.revision_tag or os.environ.get("OCTUE_SERVICE_REVISION_TAG") or image_tag(args.image)
    if not revision_tag:
        raise CommandError(
            f"No revision tag for the service in {args.service_dir!r}: give --revision-tag (or set "
            f"$OCTUE_SERVICE_REVISION_TAG, or tag IMAGE {args.image!r} with it); each revision is its own Cloud Run "
            "service."
        )
    try:
        return load_service_configuration(args.service_dir, revision_tag=revision_tag, service_name=args.service)
    except OctueBeamError as error:
        raise CommandError(str(error)) from None


def image_tag(image: str) -> str | None:
    """IMAGE's tag when it can be a revision tag (not `latest`, not a digest), else None."""
    from octue_beam.exceptions import InvalidServiceID
    from octue_beam.messaging.sruid import validate_revision_tag

    name = image.rsplit("/", 1)[-1]
    if "@" in name or ":" not in name:
        return None
    tag = name.rsplit(":", 1)[1]
    if tag == "latest":
        return None
    try:
        return validate_revision_tag(tag)
    except InvalidServiceID:
        return None


def _topic_name(services_topic: str | None, project: str) -> str:
    """The services topic's name in `project` (the server publishes answers to the topic of its own project)."""
    from octue_beam.messaging.pubsub import parse_topic

    try:
        topic_project, name = parse_topic(services_topic, project)
    except ValueError as error:
        raise CommandError(f"--services-topic: {error}") from None
    if topic_project != project:
        raise CommandError(
            f"--services-topic {services_topic!r} is in the project {topic_project!r}, not {project!r}: a Cloud Run "
            "service answers on the services topic of its own project."
        )
    return name


def _print_dry_run(
    args: argparse.Namespace, sruid: str, name: str, service: Any, subscription: Any, push_account: str
) -> None:
    from octue_beam.deployment import cloud_run, push_subscription

    endpoint = args.api_endpoint or os.environ.get(ENDPOINT_VARIABLE) or PUBLIC_ENDPOINT
    parent = cloud_run.location_path(args.project, args.region)
    print(f"# Dry run: {sruid} as the Cloud Run service {name!r} in {args.project}/{args.region}.")
    print("# Build and push the image:")
    for command in _build_commands(args):
        print(command)
    print(
        f"# Cloud Run service: POST {endpoint}/v2/{parent}/services?serviceId={name} (PATCH "
        f"{endpoint}/v2/{parent}/services/{name} when it exists), then wait for the operation:"
    )
    print(json.dumps(cloud_run.service_as_dict(service), indent=2))
    print(f"# IAM: {cloud_run.INVOKER_ROLE} on the service for serviceAccount:{push_account}.")
    print("# Push subscription (created, or updated when it exists; the push endpoint is the service's URI):")
    print(json.dumps(push_subscription.subscription_as_dict(subscription), indent=2))


def _build_commands(args: argparse.Namespace) -> list[str]:
    from octue_beam.deployment.dockerfiles import build_commands
    from octue_beam.exceptions import OctueBeamError

    try:
        return build_commands(args.service_dir, "cloud-run", args.image, python_version=args.python)
    except (OctueBeamError, ValueError) as error:
        raise CommandError(str(error)) from None


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number.") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} must be at least 1.")
    return number
