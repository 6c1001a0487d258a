"""Deploying a service revision to Dataflow: upload its Flex Template spec, find the job running it, launch.

Three Google API calls, each through its official client, which the caller makes (`make_clients` for Google; tests
point the same clients at a local stand-in for the API and at the storage emulator):

1. `JobsV1Beta3Client.list_jobs` (filter ACTIVE) finds an active job with the revision's job name;
2. the spec is uploaded to its template location (`google.cloud.storage`);
3. `FlexTemplatesServiceClient.launch_flex_template` launches the template (`update: true` with the running job's
   name to replace it in place; `validateOnly` to have Dataflow check the request without starting anything).

Where each setting goes in the launch request: the project and region are the request's path; the job's machines,
their service account, the temporary and staging locations and the streaming mode are the `environment`
(`FlexTemplateRuntimeEnvironment`); the pipeline options the launch entry reads (`service_dir`, `revision_tag`, ...,
and Beam's `sdk_container_image`, so the workers run the launcher's own image) are `parameters`, passed to it as
`--<name>=<value>`. Streaming itself is the spec's `metadata.streaming` (the pipeline always streams: a
`streaming=true` parameter would not even parse, Beam's `--streaming` being a flag).

A failed call becomes one `DeploymentError` line naming the call and Google's reason.
"""

import dataclasses
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from google.auth.exceptions import GoogleAuthError
from google.cloud import dataflow_v1beta3
from google.protobuf import json_format
from requests.exceptions import RequestException

from octue_beam.deployment.errors import DeploymentError, google_call
from octue_beam.storage.path import split_bucket_name_from_cloud_path

LAUNCH_PATH = "/v1b3/projects/{project}/locations/{region}/flexTemplates:launch"
DEFAULT_ENDPOINT = "https://dataflow.googleapis.com"
#: States of an active job that cannot be updated: it is on its way out.
_STOPPING_STATES = ("JOB_STATE_DRAINING", "JOB_STATE_CANCELLING")
_STREAMING_MODES = {
    "EXACTLY_ONCE": dataflow_v1beta3.StreamingMode.STREAMING_MODE_EXACTLY_ONCE,
    "AT_LEAST_ONCE": dataflow_v1beta3.StreamingMode.STREAMING_MODE_AT_LEAST_ONCE,
}


@dataclasses.dataclass
class DataflowClients:
    """The clients a Dataflow deployment calls: Flex Templates, Jobs (both v1beta3) and Cloud Storage."""

    templates: Any  # dataflow_v1beta3.FlexTemplatesServiceClient
    jobs: Any  # dataflow_v1beta3.JobsV1Beta3Client
    storage: Any  # google.cloud.storage.Client


@dataclasses.dataclass(frozen=True)
class LaunchSettings:
    """Everything a launch request says, besides whether it updates a running job."""

    project: str
    region: str
    job_name: str
    template_location: str
    parameters: dict[str, str]
    temp_location: str
    staging_location: str
    max_workers: int | None = None
    machine_type: str | None = None
    service_account: str | None = None
    streaming_mode: str = "EXACTLY_ONCE"
    validate_only: bool = False


@dataclasses.dataclass(frozen=True)
class LaunchOutcome:
    """What a deployment did: the job Dataflow returned (empty when only validated) and whether it replaced one."""

    job: dataflow_v1beta3.Job
    updated: bool
    replaced_job_id: str | None
    validate_only: bool


def make_clients(project: str, api_endpoint: str | None = None) -> DataflowClients:
    """Clients for Google's Dataflow API (REST transport) and Cloud Storage, with Application Default Credentials.

    `api_endpoint` replaces Dataflow's; a plain `http://` one is a local stand-in for the API, called with anonymous
    credentials. Cloud Storage is `octue_beam.storage`'s client for `project` (the emulator when
    `STORAGE_EMULATOR_HOST` is set).
    """
    from octue_beam.storage.client import get_storage_client

    options: dict[str, Any] = {"transport": "rest"}
    if api_endpoint:
        options["client_options"] = {"api_endpoint": api_endpoint}
        if api_endpoint.startswith("http://"):
            from google.auth.credentials import AnonymousCredentials

            options["credentials"] = AnonymousCredentials()
    with calling("Creating the Dataflow clients", api_endpoint or DEFAULT_ENDPOINT):
        return DataflowClients(
            templates=dataflow_v1beta3.FlexTemplatesServiceClient(**options),
            jobs=dataflow_v1beta3.JobsV1Beta3Client(**options),
            storage=get_storage_client(project),
        )


def launch_request(settings: LaunchSettings, update: bool = False) -> dataflow_v1beta3.LaunchFlexTemplateRequest:
    """The `LaunchFlexTemplateRequest` of `settings` (`update` to replace the running job of the same name)."""
    environment = dataflow_v1beta3.FlexTemplateRuntimeEnvironment(
        temp_location=settings.temp_location,
        staging_location=settings.staging_location,
        streaming_mode=_STREAMING_MODES[settings.streaming_mode],
    )
    if settings.max_workers is not None:
        environment.max_workers = settings.max_workers
    if settings.machine_type:
        environment.machine_type = settings.machine_type
    if settings.service_account:
        environment.service_account_email = settings.service_account
    return dataflow_v1beta3.LaunchFlexTemplateRequest(
        project_id=settings.project,
        location=settings.region,
        validate_only=settings.validate_only,
        launch_parameter=dataflow_v1beta3.LaunchFlexTemplateParameter(
            job_name=settings.job_name,
            container_spec_gcs_path=settings.template_location,
            parameters=settings.parameters,
            environment=environment,
            update=update,
        ),
    )


def launch_request_body(request: dataflow_v1beta3.LaunchFlexTemplateRequest) -> dict[str, Any]:
    """The JSON body the REST API receives for `request` (the project and region are in the path, enums as numbers,
    as the client's REST transport sends them)."""
    body = json_format.MessageToDict(
        dataflow_v1beta3.LaunchFlexTemplateRequest.pb(request), use_integers_for_enums=True
    )
    body.pop("projectId", None)
    body.pop("location", None)
    return body


def launch_path(project: str, region: str) -> str:
    """The REST path of the launch request."""
    return LAUNCH_PATH.format(project=project, region=region)


def upload_spec(storage_client: Any, text: str, template_location: str) -> None:
    """Write the spec file to `template_location` (gs://bucket/path.json)."""
    bucket, name = split_bucket_name_from_cloud_path(template_location)
    with calling("Cloud Storage upload of the Flex Template spec", template_location):
        storage_client.bucket(bucket).blob(name).upload_from_string(text, content_type="application/json")


def find_active_job(jobs_client: Any, project: str, region: str, job_name: str) -> dataflow_v1beta3.Job | None:
    """The active job (running, pending, draining, ...) named `job_name` in `project`/`region`, else None."""
    request = dataflow_v1beta3.ListJobsRequest(
        project_id=project, location=region, filter=dataflow_v1beta3.ListJobsRequest.Filter.ACTIVE
    )
    with calling("Dataflow list_jobs (filter ACTIVE)", f"projects/{project}/locations/{region}"):
        for job in jobs_client.list_jobs(request=request):
            if job.name == job_name:
                return job
    return None


def deploy(
    clients: DataflowClients, settings: LaunchSettings, spec_text: str, update: bool = False
) -> LaunchOutcome:
    """Upload the spec and launch the job, updating the active job of the same name with `update` (creating it when
    none runs); without `update`, an active job of that name is a DeploymentError (raised before anything is
    written)."""
    active = find_active_job(clients.jobs, settings.project, settings.region, settings.job_name)
    if active is not None:
        state = active.current_state.name
        if not update:
            raise DeploymentError(
                f"A Dataflow job named {settings.job_name!r} is already active in {settings.project}/"
                f"{settings.region} (job {active.id}, {state}): deploy with --update to replace it with this "
                "revision's template."
            )
        if state in _STOPPING_STATES:
            raise DeploymentError(
                f"The Dataflow job {settings.job_name!r} (job {active.id}) is {state}: it cannot be updated; deploy "
                "again once it has stopped."
            )
    upload_spec(clients.storage, spec_text, settings.template_location)
    request = launch_request(settings, update=active is not None)
    call = "Dataflow launch_flex_template" + (" (validate only)" if settings.validate_only else "")
    resource = f"projects/{settings.project}/locations/{settings.region}, job {settings.job_name}"
    with calling(call, resource):
        response = clients.templates.launch_flex_template(request=request)
    return LaunchOutcome(
        job=response.job,
        updated=active is not None,
        replaced_job_id=active.id if active is not None else None,
        validate_only=settings.validate_only,
    )


@contextmanager
def calling(call: str, resource: str) -> Iterator[None]:
    """Turn an error of the Google API, of the credentials or of the connection inside the block into one
    DeploymentError line: `<call> (<resource>) failed: <why>`."""
    try:
        with google_call(call, resource):
            yield
    except (GoogleAuthError, RequestException) as error:
        why = " ".join(str(error).split())
        raise DeploymentError(f"{call} ({resource}) failed: {type(error).__name__}: {why}") from error


def request_json(body: dict[str, Any]) -> str:
    """A request body as indented JSON (for `--dry-run`)."""
    return json.dumps(body, indent=2)
