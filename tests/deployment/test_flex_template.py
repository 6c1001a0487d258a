"""The Dataflow Flex Template spec, the launch request and job names, checked with the `google.cloud.dataflow_v1beta3`
types (offline: nothing here calls an API)."""

import argparse
import json
import re

import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from google.cloud import dataflow_v1beta3

from octue_beam.deployment import dataflow, flex_template, job_names
from octue_beam.pipeline.options import ServiceOptions

IMAGE = "europe-west1-docker.pkg.dev/my-project/services/my-service:1.2.0"
SRUID = "my-org/my-service:1.2.0"


def service_option_names() -> list[str]:
    """The options ServiceOptions declares, read from the parser Beam builds them into."""
    parser = argparse.ArgumentParser(add_help=False)
    ServiceOptions._add_argparse_args(parser)
    return [action.option_strings[0].removeprefix("--") for action in parser._actions]


def test_the_spec_parses_as_a_container_spec_with_streaming_metadata():
    spec = flex_template.container_spec(IMAGE, SRUID)
    parsed = dataflow_v1beta3.ContainerSpec.from_json(json.dumps(spec), ignore_unknown_fields=False)
    assert parsed.image == IMAGE
    assert parsed.sdk_info.language == dataflow_v1beta3.SDKInfo.Language.PYTHON
    metadata = parsed.metadata
    assert metadata.name == SRUID
    assert SRUID in metadata.description
    assert metadata.streaming is True
    assert metadata.supports_at_least_once is True
    assert metadata.supports_exactly_once is True
    assert metadata.default_streaming_mode == "EXACTLY_ONCE"
    # The uploaded file is the same spec.
    assert json.loads(flex_template.spec_text(spec)) == spec


def test_the_spec_has_one_optional_parameter_per_service_option_each_a_declared_pipeline_option():
    spec = flex_template.container_spec(IMAGE, SRUID)
    parameters = dataflow_v1beta3.ContainerSpec.from_json(json.dumps(spec)).metadata.parameters
    names = [parameter.name for parameter in parameters]
    assert names == service_option_names()
    assert {"service_dir", "revision_tag", "services_topic", "subscription", "question_timeout"} <= set(names)
    for parameter in parameters:
        assert parameter.is_optional
        assert parameter.label and parameter.help_text, parameter.name
    # What the launch entry receives as --<name>=<value> lands in ServiceOptions.
    options = PipelineOptions(["--revision_tag=1.2.0", "--services_topic=my-topic", "--question_timeout=30"])
    service_options = options.view_as(ServiceOptions)
    assert (service_options.revision_tag, service_options.services_topic) == ("1.2.0", "my-topic")
    assert service_options.question_timeout == 30


def test_at_least_once_can_be_the_default_and_other_modes_are_refused():
    spec = flex_template.container_spec(IMAGE, SRUID, default_streaming_mode="AT_LEAST_ONCE")
    assert flex_template.parse_container_spec(spec).metadata.default_streaming_mode == "AT_LEAST_ONCE"
    with pytest.raises(flex_template.InvalidTemplateSpec, match="'EXACTLY_ONE' is not one of"):
        flex_template.container_spec(IMAGE, SRUID, default_streaming_mode="EXACTLY_ONE")


@pytest.mark.parametrize(
    "change",
    [
        lambda spec: spec["metadata"].update(streamingMode="EXACTLY_ONCE"),  # not a TemplateMetadata field
        lambda spec: spec["metadata"].update(supportsExactlyOne=True),  # a misspelt field
        lambda spec: spec["sdkInfo"].update(language="COBOL"),
    ],
    ids=["unknown-metadata-field", "misspelt-field", "unknown-language"],
)
def test_a_spec_the_dataflow_type_does_not_accept_is_refused(change):
    spec = flex_template.container_spec(IMAGE, SRUID)
    change(spec)
    with pytest.raises(flex_template.InvalidTemplateSpec, match="not a valid dataflow_v1beta3.ContainerSpec"):
        flex_template.parse_container_spec(spec)


def launch_settings(**changes) -> dataflow.LaunchSettings:
    settings = {
        "project": "my-project",
        "region": "europe-west1",
        "job_name": "my-org--my-service--1-2-0-0123abcd",
        "template_location": "gs://my-bucket/templates/my-service.json",
        "parameters": {"service_dir": "/service", "revision_tag": "1.2.0", "sdk_container_image": IMAGE},
        "temp_location": "gs://my-bucket/dataflow/temp",
        "staging_location": "gs://my-bucket/dataflow/staging",
        "max_workers": 5,
        "machine_type": "n2-standard-2",
        "service_account": "runner@my-project.iam.gserviceaccount.com",
    }
    return dataflow.LaunchSettings(**{**settings, **changes})


def test_the_launch_request_body_parses_into_the_launch_types_with_parameters_and_environment_apart():
    settings = launch_settings()
    body = dataflow.launch_request_body(dataflow.launch_request(settings, update=True))
    assert "projectId" not in body and "location" not in body  # they are the request's path
    parameter = dataflow_v1beta3.LaunchFlexTemplateParameter.from_json(
        json.dumps(body["launchParameter"]), ignore_unknown_fields=False
    )
    assert parameter.job_name == settings.job_name
    assert parameter.container_spec_gcs_path == settings.template_location
    assert dict(parameter.parameters) == settings.parameters
    assert parameter.update is True
    environment = parameter.environment
    assert environment.max_workers == 5
    assert environment.machine_type == "n2-standard-2"
    assert environment.service_account_email == "runner@my-project.iam.gserviceaccount.com"
    assert environment.temp_location == "gs://my-bucket/dataflow/temp"
    assert environment.staging_location == "gs://my-bucket/dataflow/staging"
    assert environment.streaming_mode == dataflow_v1beta3.StreamingMode.STREAMING_MODE_EXACTLY_ONCE
    assert environment.sdk_container_image == ""  # a pipeline option: among the parameters
    request = dataflow_v1beta3.LaunchFlexTemplateRequest.from_json(json.dumps(body), ignore_unknown_fields=False)
    assert request.validate_only is False


def test_unset_machine_options_are_left_to_dataflow_and_validate_only_is_in_the_body():
    settings = launch_settings(max_workers=None, machine_type=None, service_account=None, validate_only=True,
                               streaming_mode="AT_LEAST_ONCE")
    body = dataflow.launch_request_body(dataflow.launch_request(settings))
    assert body["validateOnly"] is True
    assert "update" not in body["launchParameter"]
    assert set(body["launchParameter"]["environment"]) == {"tempLocation", "stagingLocation", "streamingMode"}
    assert body["launchParameter"]["environment"]["streamingMode"] == int(
        dataflow_v1beta3.StreamingMode.STREAMING_MODE_AT_LEAST_ONCE
    )


# --- job names --------------------------------------------------------------------------------------

DATAFLOW_JOB_NAME = re.compile(r"[a-z]([-a-z0-9]{0,1022}[a-z0-9])?")  # the Job.name rule of the v1b3 API

AWKWARD_SRUIDS = [
    "my-org/my-service:1.2.0",
    "my-org/my-service:1-2-0",
    "my-org/my-service:V1.2.0-RC1",
    "my-org/my-service:v1.2.0-rc1",
    "my-org/my-service:feature__branch_",
    "my-org/my-service:_",
    "my-org/my-service:1..2--3",
    "9lives/my-service:1",
    "a/b-c:1",
    "a-b/c:1",
    "my-org/" + "very-long-name-" * 90 + "end:" + "T" * 128,
    "my-org/" + "very-long-name-" * 90 + "end:" + "t" * 128,
]


@pytest.mark.parametrize("sruid", AWKWARD_SRUIDS)
def test_job_names_follow_dataflows_rules_and_are_stable(sruid):
    name = job_names.job_name_for(sruid)
    assert DATAFLOW_JOB_NAME.fullmatch(name), name
    assert len(name) <= 1024
    assert job_names.is_valid_job_name(name)
    assert job_names.job_name_for(sruid) == name


def test_job_names_are_readable_and_distinct_per_revision():
    assert job_names.job_name_for("my-org/my-service:1-2-0") == "my-org--my-service--1-2-0"
    assert job_names.job_name_for("my-org/my-service:1.2.0").startswith("my-org--my-service--1-2-0-")
    names = [job_names.job_name_for(sruid) for sruid in AWKWARD_SRUIDS]
    assert len(set(names)) == len(names), names


def test_a_job_name_needs_a_full_sruid():
    with pytest.raises(ValueError, match="no revision tag"):
        job_names.job_name_for("my-org/my-service")
    assert not job_names.is_valid_job_name("My-Job")
    assert not job_names.is_valid_job_name("job-")
    assert not job_names.is_valid_job_name("1job")
