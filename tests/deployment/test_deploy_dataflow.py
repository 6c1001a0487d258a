"""`deploy dataflow` against a local stand-in for the Google API (Dataflow's REST API, through the official
`google-cloud-dataflow-client` with its REST transport) and the real Cloud Storage emulator: the exact requests it
sends, the spec it uploads, the errors it reports, and a dry run that touches no network."""

import json
import os
import socket
import subprocess
import sys

import pytest
from google.cloud import dataflow_v1beta3

from octue_beam.cli import build_parser, main
from octue_beam.cli import deploy_dataflow as command
from octue_beam.cli.arguments import CommandError
from octue_beam.deployment import dataflow, dockerfiles, flex_template, job_names
from octue_beam.storage.client import download_bytes
from octue_beam.testing.pytest_plugin import TEST_BUCKET
from tests.support.google_api import GoogleApiStandIn
from tests.support.paths import REPOSITORY
from tests.support.service_dirs import write_service

PROJECT = "my-project"
REGION = "europe-west1"
IMAGE = "europe-west1-docker.pkg.dev/my-project/services/test-service:1.2.0"
SRUID = "test-org/test-service:1.2.0"
JOB_NAME = job_names.job_name_for(SRUID)
LAUNCH = f"/v1b3/projects/{PROJECT}/locations/{REGION}/flexTemplates:launch"
JOBS = f"/v1b3/projects/{PROJECT}/locations/{REGION}/jobs"
ACTIVE = str(int(dataflow_v1beta3.ListJobsRequest.Filter.ACTIVE))
EXACTLY_ONCE = int(dataflow_v1beta3.StreamingMode.STREAMING_MODE_EXACTLY_ONCE)


@pytest.fixture
def standin():
    with GoogleApiStandIn() as standin:
        yield standin


@pytest.fixture
def service_dir(tmp_path):
    return write_service(tmp_path / "service")


def deploy_arguments(service_dir, standin, *extra: str, template: str = "templates/") -> list[str]:
    return [
        "deploy", "dataflow", str(service_dir),
        "--project", PROJECT, "--region", REGION,
        "--template-location", f"gs://{TEST_BUCKET}/{template}",
        "--image", IMAGE,
        "--api-endpoint", standin.endpoint,
        *extra,
    ]


def route_jobs(standin, jobs: list[dict]) -> None:
    standin.route("GET", JOBS, {"jobs": jobs})


def route_launch(standin, job_id: str = "2026-11-30_01_02_03-123") -> None:
    standin.route(
        "POST", LAUNCH, lambda request: {"job": {"id": job_id, "name": request.json["launchParameter"]["jobName"]}}
    )


def test_deploy_lists_active_jobs_uploads_the_spec_and_launches_with_the_exact_request(
    standin, service_dir, storage_emulator, capsys
):
    """Against a stand-in for the Google API: the ListJobs and LaunchFlexTemplate requests, and the spec object in
    the storage emulator."""
    route_jobs(standin, [{"id": "other", "name": "someone-elses-job", "currentState": "JOB_STATE_RUNNING"}])
    route_launch(standin)
    code = main(deploy_arguments(
        service_dir, standin,
        "--max-workers", "4", "--machine-type", "n2-standard-2",
        "--service-account", "runner@my-project.iam.gserviceaccount.com",
        "--services-topic", "my.services", "--parameter", "question_timeout=600",
    ))
    assert code == 0, capsys.readouterr().err

    assert [(r.method, r.path) for r in standin.requests] == [("GET", JOBS), ("POST", LAUNCH)]
    assert standin.requests[0].query["filter"] == [ACTIVE]
    template = f"gs://{TEST_BUCKET}/templates/{JOB_NAME}.json"
    assert standin.requests[1].json == {
        "launchParameter": {
            "jobName": JOB_NAME,
            "containerSpecGcsPath": template,
            "parameters": {
                "service_dir": dockerfiles.SERVICE_DIR_IN_IMAGE,
                "revision_tag": "1.2.0",
                "services_topic": "my.services",
                "question_timeout": "600",
                "sdk_container_image": IMAGE,
            },
            "environment": {
                "maxWorkers": 4,
                "machineType": "n2-standard-2",
                "serviceAccountEmail": "runner@my-project.iam.gserviceaccount.com",
                "tempLocation": f"gs://{TEST_BUCKET}/dataflow/temp",
                "stagingLocation": f"gs://{TEST_BUCKET}/dataflow/staging",
                "streamingMode": EXACTLY_ONCE,
            },
        }
    }

    uploaded = json.loads(download_bytes(template))
    spec = dataflow_v1beta3.ContainerSpec.from_json(json.dumps(uploaded), ignore_unknown_fields=False)
    assert spec.image == IMAGE
    assert spec.metadata.name == SRUID
    assert spec.metadata.streaming and spec.metadata.supports_exactly_once and spec.metadata.supports_at_least_once
    assert {"service_dir", "revision_tag", "services_topic", "question_timeout"} <= {
        parameter.name for parameter in spec.metadata.parameters
    }
    output = capsys.readouterr().out
    assert f"Launched the job {JOB_NAME!r} in {PROJECT}/{REGION}" in output and "2026-11-30_01_02_03-123" in output


def test_validate_only_sets_validate_only_and_starts_nothing(standin, service_dir, storage_emulator, capsys):
    """Against a stand-in for the Google API."""
    route_jobs(standin, [])
    standin.route("POST", LAUNCH, {})  # a validate-only launch returns no job
    assert main(deploy_arguments(service_dir, standin, "--validate-only")) == 0
    (launch,) = standin.requests_to("POST", LAUNCH)
    assert launch.json["validateOnly"] is True
    assert "update" not in launch.json["launchParameter"]
    assert "nothing was started" in capsys.readouterr().out


def test_update_replaces_the_active_job_of_the_same_name(standin, service_dir, storage_emulator, capsys):
    """Against a stand-in for the Google API: the running job is found by name and the launch says update."""
    route_jobs(standin, [
        {"id": "other", "name": "someone-elses-job", "currentState": "JOB_STATE_RUNNING"},
        {"id": "old-job", "name": JOB_NAME, "currentState": "JOB_STATE_RUNNING"},
    ])
    route_launch(standin, job_id="new-job")
    assert main(deploy_arguments(service_dir, standin, "--update")) == 0
    (listing,) = standin.requests_to("GET", JOBS)
    assert listing.query["filter"] == [ACTIVE]
    (launch,) = standin.requests_to("POST", LAUNCH)
    assert launch.json["launchParameter"]["update"] is True
    assert launch.json["launchParameter"]["jobName"] == JOB_NAME
    output = capsys.readouterr().out
    assert "replacing job old-job" in output and "new-job" in output


def test_update_creates_the_job_when_none_of_that_name_is_active(standin, service_dir, storage_emulator):
    """Against a stand-in for the Google API."""
    route_jobs(standin, [{"id": "other", "name": JOB_NAME + "-x", "currentState": "JOB_STATE_RUNNING"}])
    route_launch(standin)
    assert main(deploy_arguments(service_dir, standin, "--update")) == 0
    (launch,) = standin.requests_to("POST", LAUNCH)
    assert "update" not in launch.json["launchParameter"]
    assert launch.json["launchParameter"]["jobName"] == JOB_NAME


def test_an_active_job_without_update_is_an_error_and_nothing_is_written(
    standin, service_dir, storage_emulator, capsys
):
    """Against a stand-in for the Google API: no launch, no spec uploaded."""
    route_jobs(standin, [{"id": "old-job", "name": JOB_NAME, "currentState": "JOB_STATE_RUNNING"}])
    route_launch(standin)
    template = f"gs://{TEST_BUCKET}/refused/{JOB_NAME}.json"
    assert main(deploy_arguments(service_dir, standin, template="refused/")) == 1
    error = capsys.readouterr().err
    assert f"A Dataflow job named {JOB_NAME!r} is already active" in error and "--update" in error
    assert standin.requests_to("POST", LAUNCH) == []
    with pytest.raises(FileNotFoundError):
        download_bytes(template)


def test_a_draining_job_cannot_be_updated(standin, service_dir, storage_emulator, capsys):
    """Against a stand-in for the Google API."""
    route_jobs(standin, [{"id": "old-job", "name": JOB_NAME, "currentState": "JOB_STATE_DRAINING"}])
    assert main(deploy_arguments(service_dir, standin, "--update")) == 1
    assert "is JOB_STATE_DRAINING: it cannot be updated" in capsys.readouterr().err
    assert standin.requests_to("POST", LAUNCH) == []


@pytest.mark.parametrize("status, google_status", [(400, "INVALID_ARGUMENT"), (403, "PERMISSION_DENIED"),
                                                   (404, "NOT_FOUND")])
@pytest.mark.parametrize("failing", ["list_jobs", "launch_flex_template"])
def test_google_errors_become_one_line_naming_the_call_and_the_reason(
    standin, service_dir, storage_emulator, capsys, status, google_status, failing
):
    """A stand-in for the Google API refusing the call."""
    message = f"Google says no ({google_status})"
    error = (status, {"error": {"code": status, "message": message, "status": google_status}})
    if failing == "list_jobs":
        standin.route("GET", JOBS, error)
    else:
        route_jobs(standin, [])
        standin.route("POST", LAUNCH, error)
    assert main(deploy_arguments(service_dir, standin)) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines[-1] == "(run with --debug for the full traceback)"
    (line,) = lines[:-1]
    assert line.startswith(f"octue-beam deploy: Dataflow {failing}")
    assert f"projects/{PROJECT}/locations/{REGION}" in line
    assert f"failed: {status} " in line and line.endswith(message)


def test_an_upload_to_a_missing_bucket_is_one_line_naming_the_upload(standin, service_dir, storage_emulator, capsys):
    """The storage emulator refusing the upload (after the stand-in for the Google API listed no active job)."""
    route_jobs(standin, [])
    route_launch(standin)
    arguments = deploy_arguments(service_dir, standin)
    arguments[arguments.index("--template-location") + 1] = "gs://no-such-bucket-here/templates/x.json"
    assert main(arguments) == 1
    (line, _) = capsys.readouterr().err.splitlines()
    upload = "Cloud Storage upload of the Flex Template spec (gs://no-such-bucket-here/templates/x.json)"
    assert f"{upload} failed: 404" in line
    assert standin.requests_to("POST", LAUNCH) == []


def test_an_unreachable_api_is_one_line_naming_the_call(service_dir, storage_emulator, capsys):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"  # bound, not listening: connections are refused
        arguments = deploy_arguments(service_dir, type("Endpoint", (), {"endpoint": closed}))
        assert main(arguments) == 1
    (line, _) = capsys.readouterr().err.splitlines()
    assert "Dataflow list_jobs (filter ACTIVE)" in line and "ConnectionError" in line


def dry_run_sections(output: str) -> dict[str, str]:
    """The dry run's output split at its `# ` headings: {heading: text under it}."""
    sections: dict[str, list[str]] = {}
    heading = None
    for line in output.splitlines():
        if line.startswith("# "):
            heading = line
            sections[heading] = []
        else:
            sections[heading].append(line)
    return {heading: "\n".join(lines) for heading, lines in sections.items()}


def test_dry_run_prints_build_commands_spec_and_request_and_touches_no_network(
    standin, service_dir, storage_emulator, capsys, monkeypatch
):
    """No client is made and no socket connects; what it prints is what a real deployment sends (checked against
    the stand-in for the Google API afterwards)."""
    arguments = deploy_arguments(service_dir, standin, "--max-workers", "2", "--streaming-mode", "at-least-once")
    args = build_parser().parse_args([*arguments, "--dry-run"])

    def no_clients(*_):
        raise AssertionError("a dry run made a client")

    def no_connection(*_args, **_kwargs):
        raise AssertionError("a dry run opened a connection")

    with monkeypatch.context() as patch:
        patch.setattr(socket.socket, "connect", no_connection)
        patch.setattr(socket, "create_connection", no_connection)
        assert command.handle(args, make_clients=no_clients) == 0
    sections = dry_run_sections(capsys.readouterr().out)
    headings = list(sections)
    assert headings[0].startswith(f"# Dry run: {SRUID} as the Dataflow job {JOB_NAME!r} in {PROJECT}/{REGION}")
    assert sections[headings[1]].splitlines() == dockerfiles.build_commands(str(service_dir), "dataflow", IMAGE)
    template = f"gs://{TEST_BUCKET}/templates/{JOB_NAME}.json"
    assert headings[2] == f"# Flex Template spec, uploaded to {template}:"
    spec = json.loads(sections[headings[2]])
    assert flex_template.parse_container_spec(spec).metadata.default_streaming_mode == "AT_LEAST_ONCE"
    assert headings[3] == f"# Launch request: POST {standin.endpoint}{LAUNCH}"
    printed_body = json.loads(sections[headings[3]])
    assert printed_body["launchParameter"]["environment"]["maxWorkers"] == 2
    assert standin.requests == []

    route_jobs(standin, [])
    route_launch(standin)
    assert main(arguments) == 0
    (launch,) = standin.requests_to("POST", LAUNCH)
    assert launch.json == printed_body
    assert json.loads(download_bytes(template)) == spec


def test_the_command_runs_end_to_end_with_the_endpoint_from_the_environment(standin, service_dir, storage_emulator):
    """`python -m octue_beam deploy dataflow` in its own process, against a stand-in for the Google API named by
    $OCTUE_BEAM_DATAFLOW_ENDPOINT and the storage emulator named by $STORAGE_EMULATOR_HOST."""
    route_jobs(standin, [])
    route_launch(standin, job_id="from-a-subprocess")
    arguments = [a for a in deploy_arguments(service_dir, standin) if a not in ("--api-endpoint", standin.endpoint)]
    environment = {**os.environ, command.ENDPOINT_VARIABLE: standin.endpoint}
    completed = subprocess.run(
        [sys.executable, "-m", "octue_beam", *arguments, "--revision-tag", "2.0.0"],
        cwd=REPOSITORY, env=environment, capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "from-a-subprocess" in completed.stdout
    (launch,) = standin.requests_to("POST", LAUNCH)
    assert launch.json["launchParameter"]["jobName"] == job_names.job_name_for("test-org/test-service:2.0.0")
    assert launch.json["launchParameter"]["parameters"]["revision_tag"] == "2.0.0"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"--template-location": "s3://bucket/x.json"}, "--template-location must be a gs://bucket/path"),
        ({"--image": "registry/service:latest"}, "No revision tag for the service"),
        ({"--parameter": "questions_timeout=5"}, "'questions_timeout' is not a parameter of the template"),
        ({"--parameter": "revision_tag=5"}, "is set by --revision-tag"),
        ({"--parameter": "question_timeout"}, "is not NAME=VALUE"),
    ],
)
def test_bad_arguments_are_clear_errors_before_any_call(standin, service_dir, change, message, monkeypatch):
    monkeypatch.delenv("OCTUE_SERVICE_REVISION_TAG", raising=False)
    arguments = deploy_arguments(service_dir, standin)
    for option, value in change.items():
        if option in arguments:
            arguments[arguments.index(option) + 1] = value
        else:
            arguments += [option, value]
    args = build_parser().parse_args(arguments)
    with pytest.raises(CommandError, match=message):
        command.handle(args, make_clients=lambda *_: pytest.fail("no client is needed to refuse bad arguments"))
    assert standin.requests == []


def test_the_image_tag_is_the_default_revision_tag_and_a_folder_template_location_gets_the_job_name(
    standin, service_dir, capsys
):
    args = build_parser().parse_args([*deploy_arguments(service_dir, standin, template=""), "--dry-run"])
    assert command.handle(args) == 0
    output = capsys.readouterr().out
    assert f"# Flex Template spec, uploaded to gs://{TEST_BUCKET}/{JOB_NAME}.json:" in output
    assert '"revision_tag": "1.2.0"' in output


def test_launch_request_body_is_what_the_rest_transport_sends(standin, storage_emulator):
    """The dry run's body function against what the official client sends to a stand-in for the Google API."""
    settings = dataflow.LaunchSettings(
        project=PROJECT, region=REGION, job_name=JOB_NAME, template_location="gs://b/t.json",
        parameters={"revision_tag": "1.2.0"}, temp_location="gs://b/temp", staging_location="gs://b/staging",
        machine_type="n2-standard-4", validate_only=True,
    )
    standin.route("POST", LAUNCH, {})
    request = dataflow.launch_request(settings, update=True)
    clients = dataflow.make_clients(PROJECT, standin.endpoint)
    clients.templates.launch_flex_template(request=request)
    (launch,) = standin.requests_to("POST", LAUNCH)
    assert launch.json == dataflow.launch_request_body(request)
    assert launch.json["launchParameter"]["update"] is True and launch.json["validateOnly"] is True


def fake_gcloud(folder, exit_code: int = 0):
    """A `gcloud` executable on PATH that records its arguments (no Google Cloud SDK runs here)."""
    folder.mkdir()
    script = folder / "gcloud"
    script.write_text(f'#!/bin/sh\necho "$@" >> "{folder}/calls"\nexit {exit_code}\n')
    script.chmod(0o755)
    return folder / "calls"


def test_build_writes_the_default_dockerfile_and_submits_the_build_before_deploying(
    standin, service_dir, storage_emulator, tmp_path, monkeypatch, capsys
):
    """With --build the printed commands run (a recording `gcloud` stands in for the Cloud SDK), then the deployment
    proceeds against the stand-in for the Google API."""
    calls = fake_gcloud(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    route_jobs(standin, [])
    route_launch(standin)
    assert main(deploy_arguments(service_dir, standin, "--build", "--python", "3.12")) == 0, capsys.readouterr().err
    assert calls.read_text().split() == ["builds", "submit", str(service_dir), "--tag", IMAGE]
    dockerfile = (service_dir / "Dockerfile").read_text()
    assert dockerfile == dockerfiles.dockerfile_text(str(service_dir), "dataflow", python_version="3.12")
    assert len(standin.requests_to("POST", LAUNCH)) == 1


def test_a_failed_build_stops_the_deployment(standin, service_dir, storage_emulator, tmp_path, monkeypatch, capsys):
    """Nothing is sent to the stand-in for the Google API when the image was not built."""
    fake_gcloud(tmp_path / "bin", exit_code=3)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    assert main(deploy_arguments(service_dir, standin, "--build")) == 1
    error = capsys.readouterr().err
    assert "Building the image failed" in error and "exited with code 3" in error
    assert standin.requests == []


def test_service_chooses_one_of_several_services_for_the_job_the_template_and_the_image(standin, capsys):
    two_services = REPOSITORY / "examples" / "two-services"
    args = build_parser().parse_args([*deploy_arguments(two_services, standin, "--service", "units"), "--dry-run"])
    assert command.handle(args) == 0
    sections = dry_run_sections(capsys.readouterr().out)
    headings = list(sections)
    units = job_names.job_name_for("octue-beam-examples/units:1.2.0")
    assert headings[0].startswith(f"# Dry run: octue-beam-examples/units:1.2.0 as the Dataflow job {units!r}")
    assert sections[headings[1]].splitlines() == dockerfiles.build_commands(
        str(two_services), "dataflow", IMAGE, service_name="units"
    )
    assert json.loads(sections[headings[3]])["launchParameter"]["parameters"]["service_name"] == "units"

    args = build_parser().parse_args([*deploy_arguments(two_services, standin), "--dry-run"])
    with pytest.raises(CommandError, match="statistics.*units"):
        command.handle(args)
