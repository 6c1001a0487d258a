"""A service revision as a Google Cloud Run service: its name, the `run_v2.Service` request, and creating or
updating it (docs/deployment.md).

**One Cloud Run service per revision.** Each revision of a data service has its own SRUID, its own push subscription
(filtered on that SRUID) and so its own endpoint; parents may pin a revision (`namespace/name:1.2.0`) while a newer one
is the default of a registry, so old and new revisions must answer at the same time, each with its own code. One
Cloud Run service per data service with traffic moved to the newest revision would answer the questions still
addressed to an older SRUID with the newest code, or (as the server refuses questions addressed to another revision)
not at all. Scaled to zero, a revision nobody asks costs nothing; delete the old ones when no parent asks them.

**Names.** Cloud Run takes a service ID that begins with a letter, holds only lower-case letters, digits and hyphens,
does not end with a hyphen and has fewer than 50 characters (`CreateServiceRequest.service_id` in
`google.cloud.run_v2`). `my-org/my-service:abc1234` -> `my-org-my-service-abc1234`. When the SRUID has to be
changed to fit (upper case, dots or underscores in the revision tag, a namespace starting with a digit, more than 49
characters) the name is cut and ends in `-` and 8 hex digits of the SHA-256 of the exact SRUID, so `1.2.0` and
`1-2-0` never share a service. The one ambiguity left (`a-b/c:t` and `a/b-c:t`) is caught on update: a service whose
environment names another SRUID is never replaced (`deploy_service` raises).

**The service** runs the service's image with the environment `python -m octue_beam serve` reads
(`service_environment`), scales to zero (at most `max_instances`), answers `concurrency` requests per instance, has
a request timeout covering the question time limit (`request_timeout`), is reachable from inside the project only
(`ingress="internal"`: Pub/Sub push in the same project is internal) and only with IAM (no unauthenticated access:
the push subscription's service account is made an invoker, `grant_invoker`).

The client (`run_v2.ServicesClient`) is made by the caller, never here.
"""

import concurrent.futures
import dataclasses
import hashlib
import logging
import re
from typing import Any

from google.api_core import exceptions as api_exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import pubsub_v1, run_v2
from google.iam.v1 import policy_pb2
from google.protobuf import duration_pb2, json_format

from octue_beam.answering.runner import DEFAULT_MAX_CONCURRENT_QUESTIONS
from octue_beam.deployment.errors import DeploymentError, google_call
from octue_beam.messaging.clients import new_client
from octue_beam.messaging.sruid import split_service_id, validate_sruid
from octue_beam.messaging.timeouts import DEFAULT_QUESTION_TIMEOUT
from octue_beam.service.configuration import ServiceConfiguration

logger = logging.getLogger(__name__)

MAX_SERVICE_NAME_LENGTH = 49
SERVICE_NAME_PATTERN = re.compile(r"[a-z]([-a-z0-9]{0,47}[a-z0-9])?")
MAX_REQUEST_TIMEOUT = 3600
#: Seconds of request time left after the question time limit: the time-limit answer is published in it.
TIMEOUT_MARGIN = 60
DEFAULT_MAX_INSTANCES = 10
#: One request per question slot of the server (`python -m octue_beam serve` has this many by default).
DEFAULT_CONCURRENCY = DEFAULT_MAX_CONCURRENT_QUESTIONS
DEFAULT_MEMORY = "512Mi"
DEFAULT_CPU = "1"
#: How long a create or update may take before the command gives up waiting (Cloud Run usually needs a minute).
OPERATION_TIMEOUT = 900.0
INVOKER_ROLE = "roles/run.invoker"
INGRESS = {
    "all": run_v2.IngressTraffic.INGRESS_TRAFFIC_ALL,
    "internal": run_v2.IngressTraffic.INGRESS_TRAFFIC_INTERNAL_ONLY,
    "internal-and-cloud-load-balancing": run_v2.IngressTraffic.INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER,
}
#: The environment variables naming the revision a container serves (read by `load_service_configuration`).
SRUID_VARIABLES = ("OCTUE_SERVICE_NAMESPACE", "OCTUE_SERVICE_NAME", "OCTUE_SERVICE_REVISION_TAG")

_HASH_LENGTH = 8
_NOT_ALLOWED = re.compile(r"[^a-z0-9]+")


@dataclasses.dataclass(frozen=True)
class CloudRunSettings:
    """What a deployment chooses beyond the service itself (the `deploy cloud-run` options)."""

    image: str
    service_account: str | None = None
    max_instances: int = DEFAULT_MAX_INSTANCES
    concurrency: int = DEFAULT_CONCURRENCY
    memory: str = DEFAULT_MEMORY
    cpu: str = DEFAULT_CPU
    timeout: int | None = None  # None: from the question time limit (`request_timeout`)
    ingress: str = "internal"

    def __post_init__(self) -> None:
        if not self.image:
            raise ValueError("An image is needed (e.g. europe-west1-docker.pkg.dev/PROJECT/REPOSITORY/NAME:TAG).")
        if self.max_instances < 1:
            raise ValueError(f"The maximum number of instances must be at least 1, not {self.max_instances}.")
        if not 1 <= self.concurrency <= 1000:
            raise ValueError(
                f"The concurrency must be between 1 and 1000 requests per instance, not {self.concurrency}."
            )
        if self.timeout is not None and not 1 <= self.timeout <= MAX_REQUEST_TIMEOUT:
            raise ValueError(f"The request timeout must be between 1 and {MAX_REQUEST_TIMEOUT} s, not {self.timeout}.")
        if self.ingress not in INGRESS:
            raise ValueError(f"The ingress must be one of {sorted(INGRESS)}, not {self.ingress!r}.")


def service_name_for(sruid: str) -> str:
    """The Cloud Run service ID of the revision `sruid`: stable, valid and distinct per SRUID (module docstring)."""
    namespace, name, revision_tag = split_service_id(validate_sruid(sruid))
    tag = _NOT_ALLOWED.sub("-", revision_tag.lower()).strip("-")
    readable = "-".join(part for part in (namespace, name, tag) if part)
    if not readable[0].isalpha():
        readable = "s-" + readable
    if readable == f"{namespace}-{name}-{revision_tag}" and len(readable) <= MAX_SERVICE_NAME_LENGTH:
        return readable
    digest = hashlib.sha256(sruid.encode()).hexdigest()[:_HASH_LENGTH]
    return f"{readable[: MAX_SERVICE_NAME_LENGTH - _HASH_LENGTH - 1].rstrip('-')}-{digest}"


def is_valid_service_name(name: str) -> bool:
    """True if Cloud Run accepts `name` as a service ID."""
    return isinstance(name, str) and SERVICE_NAME_PATTERN.fullmatch(name) is not None


def request_timeout(question_timeout: float | None) -> int:
    """The request timeout (s) for a question time limit: the limit plus `TIMEOUT_MARGIN` for the time-limit answer,
    at most Cloud Run's `MAX_REQUEST_TIMEOUT`. Questions may take longer than the ack deadline of their push
    subscription (600 s): Pub/Sub then pushes them again, and the server does not run them twice."""
    limit = DEFAULT_QUESTION_TIMEOUT if question_timeout is None else question_timeout
    return int(min(MAX_REQUEST_TIMEOUT, max(1, round(limit)) + TIMEOUT_MARGIN))


def location_path(project: str, region: str) -> str:
    """`projects/<project>/locations/<region>`, the parent of a region's services."""
    return f"projects/{project}/locations/{region}"


def service_path(project: str, region: str, service_name: str) -> str:
    """`projects/<project>/locations/<region>/services/<service_name>`."""
    return f"{location_path(project, region)}/services/{service_name}"


def service_environment(configuration: ServiceConfiguration, project: str, services_topic_name: str) -> dict[str, str]:
    """The environment of the container: which revision it serves (namespace, name and revision tag, so a
    multi-service octue.yaml serves the right one and the SRUID is visible on the service), the project and the
    services topic `python -m octue_beam serve` answers on. Cloud Run sets `PORT` itself."""
    return {
        "OCTUE_SERVICE_NAMESPACE": configuration.namespace,
        "OCTUE_SERVICE_NAME": configuration.name,
        "OCTUE_SERVICE_REVISION_TAG": configuration.revision_tag,
        "GOOGLE_CLOUD_PROJECT": project,
        "TWINED_SERVICES_TOPIC_NAME": services_topic_name,
    }


def build_service(
    configuration: ServiceConfiguration, project: str, services_topic_name: str, settings: CloudRunSettings
) -> run_v2.Service:
    """The `run_v2.Service` of this revision (its `name` is left out: the create request names it by ID)."""
    timeout = settings.timeout if settings.timeout is not None else request_timeout(configuration.question_timeout)
    question_timeout = configuration.question_timeout or DEFAULT_QUESTION_TIMEOUT
    if question_timeout + TIMEOUT_MARGIN > timeout:
        logger.warning(
            "The request timeout (%d s) leaves less than %d s after the question time limit (%g s): a question "
            "reaching the limit may be cut off by Cloud Run before its time-limit answer is sent. Set "
            "question_timeout to at most %d s in octue.yaml for Cloud Run.",
            timeout, TIMEOUT_MARGIN, question_timeout, timeout - TIMEOUT_MARGIN,
        )
    environment = service_environment(configuration, project, services_topic_name)
    container = run_v2.Container(
        image=settings.image,
        env=[run_v2.EnvVar(name=key, value=value) for key, value in environment.items()],
        resources=run_v2.ResourceRequirements(limits={"cpu": settings.cpu, "memory": settings.memory}, cpu_idle=True),
    )
    template = run_v2.RevisionTemplate(
        containers=[container],
        scaling=run_v2.RevisionScaling(min_instance_count=0, max_instance_count=settings.max_instances),
        timeout=duration_pb2.Duration(seconds=timeout),
        max_instance_request_concurrency=settings.concurrency,
        service_account=settings.service_account or "",
    )
    return run_v2.Service(
        description=f"octue_beam service revision {configuration.sruid}",
        labels={"managed-by": "octue-beam"},
        ingress=INGRESS[settings.ingress],
        launch_stage="GA",
        invoker_iam_disabled=False,
        template=template,
        traffic=[
            run_v2.TrafficTarget(
                type_=run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST, percent=100
            )
        ],
    )


def service_as_dict(service: run_v2.Service) -> dict[str, Any]:
    """The service as the JSON body Cloud Run's REST API receives (camelCase keys, enums by name)."""
    return json_format.MessageToDict(run_v2.Service.pb(service))


def served_sruid(service: run_v2.Service) -> str | None:
    """The SRUID a deployed service's container says it serves (its `SRUID_VARIABLES`), None if it does not say."""
    for container in service.template.containers:
        values = {variable.name: variable.value for variable in container.env}
        if all(values.get(name) for name in SRUID_VARIABLES):
            namespace, name, tag = (values[name] for name in SRUID_VARIABLES)
            return f"{namespace}/{name}:{tag}"
    return None


def deploy_service(
    client: run_v2.ServicesClient,
    project: str,
    region: str,
    service_name: str,
    service: run_v2.Service,
    sruid: str,
    *,
    timeout: float = OPERATION_TIMEOUT,
) -> tuple[str, run_v2.Service]:
    """Create the Cloud Run service `service_name`, or update it if it exists, and wait until Cloud Run has done so.

    Returns `("created" | "updated", the deployed service)` (its `uri` is the push endpoint). An existing service
    deployed for another SRUID, or not by octue_beam, is never replaced: a `DeploymentError` says so.
    """
    name = service_path(project, region, service_name)
    try:
        with google_call("Cloud Run get_service", name):
            existing = client.get_service(name=name)
    except DeploymentError as error:
        if not isinstance(error.__cause__, api_exceptions.NotFound):
            raise
        existing = None
    if existing is None:
        with google_call("Cloud Run create_service", name):
            operation = client.create_service(
                parent=location_path(project, region), service=service, service_id=service_name
            )
        action = "created"
    else:
        owner = served_sruid(existing)
        if owner != sruid:
            raise DeploymentError(
                f"The Cloud Run service {name} already exists and serves "
                f"{repr(owner) if owner else 'something not deployed by octue_beam'}, not {sruid!r}: it is left "
                "unchanged. Delete it, or deploy this revision in another project or region."
            )
        update = run_v2.Service(service)
        update.name = name
        with google_call("Cloud Run update_service", name):
            operation = client.update_service(service=update)
        action = "updated"
    with google_call(f"Cloud Run {action[:-1]} operation", name):
        try:
            deployed = operation.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            raise DeploymentError(
                f"Cloud Run did not finish deploying {name} within {timeout:g} s: see its state in the Cloud "
                "console (`gcloud run services describe`)."
            ) from None
    return action, deployed


def grant_invoker(client: run_v2.ServicesClient, name: str, service_account: str) -> bool:
    """Let `service_account` invoke the Cloud Run service `name` (the push subscription's OIDC identity); return
    whether the policy had to change. Other bindings are kept."""
    member = f"serviceAccount:{service_account}"
    with google_call("Cloud Run get_iam_policy", name):
        policy = client.get_iam_policy(request={"resource": name})
    for binding in policy.bindings:
        if binding.role == INVOKER_ROLE and member in binding.members and not binding.HasField("condition"):
            return False
    updated = policy_pb2.Policy()
    updated.CopyFrom(policy)
    for binding in updated.bindings:
        if binding.role == INVOKER_ROLE and not binding.HasField("condition"):
            binding.members.append(member)
            break
    else:
        updated.bindings.add(role=INVOKER_ROLE, members=[member])
    with google_call("Cloud Run set_iam_policy", name):
        client.set_iam_policy(request={"resource": name, "policy": updated})
    return True


@dataclasses.dataclass
class CloudRunClients:
    """The clients a Cloud Run deployment calls: Cloud Run's services, and Pub/Sub for the topic and the push
    subscription."""

    services: run_v2.ServicesClient
    publisher: pubsub_v1.PublisherClient
    subscriber: pubsub_v1.SubscriberClient

    def close(self) -> None:
        """Close the clients' transports."""
        self.services.transport.close()
        self.publisher.transport.close()
        self.subscriber.close()


def make_clients(api_endpoint: str | None = None) -> CloudRunClients:
    """Clients with Application Default Credentials: Cloud Run's (REST transport; `api_endpoint` replaces Google's,
    and a plain `http://` one is a local stand-in for the API, called with anonymous credentials) and Pub/Sub's (the
    emulator when `PUBSUB_EMULATOR_HOST` is set, `messaging.clients.new_client`)."""
    options: dict[str, Any] = {"transport": "rest"}
    if api_endpoint:
        options["client_options"] = {"api_endpoint": api_endpoint}
        if api_endpoint.startswith("http://"):
            options["credentials"] = AnonymousCredentials()
    with google_call("Creating the Cloud Run and Pub/Sub clients", api_endpoint or "Google Cloud"):
        return CloudRunClients(
            services=run_v2.ServicesClient(**options),
            publisher=new_client(pubsub_v1.PublisherClient),
            subscriber=new_client(pubsub_v1.SubscriberClient),
        )
