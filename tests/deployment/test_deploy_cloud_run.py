"""`deploy cloud-run`: the Cloud Run service of a revision and its push subscription.

Cloud Run is called through `google.cloud.run_v2` (REST transport) against a local stand-in for the Google API
(`tests.support.google_api.GoogleApiStandIn`), and every request it sent is asserted; the push subscription is made on
the real Pub/Sub emulator, the stand-in for Pub/Sub, and read back from it.
"""

import json
import uuid

import pytest
from google.api_core import exceptions as api_exceptions
from google.cloud import pubsub_v1, run_v2
from google.protobuf import duration_pb2, json_format

from octue_beam.cli import build_parser, deploy_cloud_run, main
from octue_beam.deployment import cloud_run, push_subscription
from octue_beam.deployment.dockerfiles import build_commands
from octue_beam.messaging.clients import new_client
from tests.support.google_api import GoogleApiStandIn
from tests.support.service_dirs import write_service

PROJECT = "octue-beam-test"
REGION = "europe-west1"
PARENT = f"projects/{PROJECT}/locations/{REGION}"
IMAGE = "europe-west1-docker.pkg.dev/octue-beam-test/services/test-service"
RUNNER = "runner@octue-beam-test.iam.gserviceaccount.com"
PUSHER = "pusher@octue-beam-test.iam.gserviceaccount.com"
URI = "https://test-org-test-service-abc-ew.a.run.app"


@pytest.fixture
def revision():
    """A revision tag of its own per test (the emulator is shared by the whole session)."""
    return f"r{uuid.uuid4().hex[:10]}"


@pytest.fixture
def topic(pubsub_emulator):
    """A services topic of the test's own: the emulator pushes every message of a topic to its push subscriptions
    (it applies no filter), so none of the other tests' questions go to this test's made-up endpoints."""
    name = f"deploy-cloud-run-{uuid.uuid4().hex[:8]}"
    yield name
    subscriber = new_client(pubsub_v1.SubscriberClient)
    publisher = new_client(pubsub_v1.PublisherClient)
    for subscription in publisher.list_topic_subscriptions(topic=f"projects/{PROJECT}/topics/{name}"):
        subscriber.delete_subscription(subscription=subscription)
    publisher.delete_topic(topic=f"projects/{PROJECT}/topics/{name}")
    subscriber.close()


@pytest.fixture
def subscriber(pubsub_emulator):
    client = new_client(pubsub_v1.SubscriberClient)
    yield client
    client.close()


def service_resource(name: str, uri: str, environment: dict[str, str]) -> dict:
    """A `google.cloud.run.v2.Service` as Cloud Run's REST API returns it (an operation's response, or a GET)."""
    return {
        "@type": "type.googleapis.com/google.cloud.run.v2.Service",
        "name": f"{PARENT}/services/{name}",
        "uri": uri,
        "template": {
            "containers": [{"image": IMAGE, "env": [{"name": k, "value": v} for k, v in environment.items()]}]
        },
    }


def sruid_environment(revision: str) -> dict[str, str]:
    return {
        "OCTUE_SERVICE_NAMESPACE": "test-org",
        "OCTUE_SERVICE_NAME": "test-service",
        "OCTUE_SERVICE_REVISION_TAG": revision,
    }


def route_cloud_run(
    standin: GoogleApiStandIn,
    revision: str,
    existing: dict | None = None,
    policy: dict | None = None,
    create: object = None,
) -> str:
    """Routes of Cloud Run's API for the revision's service: GET (404, or `existing`), create (`create`, else an
    operation not yet done) and update (an operation not yet done), the operation (done, its response the service
    with its URI), and the service's IAM policy. Returns the service's name."""
    name = f"test-org-test-service-{revision}"
    path = f"/v2/{PARENT}/services/{name}"
    not_found = {"error": {"code": 404, "message": f"Resource '{name}' does not exist.", "status": "NOT_FOUND"}}
    operation = {"name": f"{PARENT}/operations/deploy-1", "done": False}
    standin.route("GET", path, existing if existing is not None else (404, not_found))
    standin.route("POST", f"/v2/{PARENT}/services", create if create is not None else operation)
    standin.route("PATCH", path, operation)
    done = {
        "name": f"{PARENT}/operations/deploy-1",
        "done": True,
        "response": service_resource(name, URI, sruid_environment(revision)),
    }
    standin.route("GET", f"/v2/{PARENT}/operations/deploy-1", done)
    standin.route("GET", f"{path}:getIamPolicy", policy if policy is not None else {"etag": "BwYAAAA="})
    standin.route("POST", f"{path}:setIamPolicy", lambda request: request.json["policy"])
    return name


def deploy(service_dir, revision, topic, standin, *options):
    return main(
        [
            "deploy", "cloud-run", str(service_dir), "--project", PROJECT, "--region", REGION,
            "--image", f"{IMAGE}:{revision}", "--service-account", RUNNER, "--push-service-account", PUSHER,
            "--services-topic", topic, "--api-endpoint", standin.endpoint, *options,
        ]
    )


def expected_service_body(revision: str, topic: str, timeout: str) -> dict:
    """The JSON body of the Service this test's deployment asks for (enums as numbers: the REST transport sends
    `$alt=json;enum-encoding=int`)."""
    return {
        "description": f"octue_beam service revision test-org/test-service:{revision}",
        "labels": {"managed-by": "octue-beam"},
        "ingress": run_v2.IngressTraffic.INGRESS_TRAFFIC_INTERNAL_ONLY,
        "launchStage": 4,  # google.api.LaunchStage.GA
        "template": {
            "scaling": {"maxInstanceCount": 3},
            "timeout": timeout,
            "serviceAccount": RUNNER,
            "containers": [
                {
                    "image": f"{IMAGE}:{revision}",
                    "env": [
                        {"name": "OCTUE_SERVICE_NAMESPACE", "value": "test-org"},
                        {"name": "OCTUE_SERVICE_NAME", "value": "test-service"},
                        {"name": "OCTUE_SERVICE_REVISION_TAG", "value": revision},
                        {"name": "GOOGLE_CLOUD_PROJECT", "value": PROJECT},
                        {"name": "TWINED_SERVICES_TOPIC_NAME", "value": topic},
                    ],
                    "resources": {"limits": {"cpu": "2", "memory": "1Gi"}, "cpuIdle": True},
                }
            ],
            "maxInstanceRequestConcurrency": 4,
        },
        "traffic": [{"type": run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST, "percent": 100}],
    }


SIZING = ("--max-instances", "3", "--concurrency", "4", "--memory", "1Gi", "--cpu", "2")


def assert_push_subscription(subscription, revision: str, topic: str) -> None:
    """The subscription Pub/Sub (the emulator) holds is the revision's push subscription to the service's URI, and
    never expires (no ttl)."""
    assert subscription.name == f"projects/{PROJECT}/subscriptions/test-org.test-service.{revision}"
    assert subscription.topic == f"projects/{PROJECT}/topics/{topic}"
    assert subscription.filter == (
        f'attributes.recipient = "test-org/test-service:{revision}" AND attributes.sender_type = "PARENT"'
    )
    assert subscription.push_config.push_endpoint == URI
    assert subscription.push_config.oidc_token.service_account_email == PUSHER
    assert subscription.ack_deadline_seconds == 600
    assert subscription.retry_policy.minimum_backoff.total_seconds() == 10
    assert subscription.retry_policy.maximum_backoff.total_seconds() == 600
    assert not subscription.expiration_policy.ttl


# --- names and timeouts ---------------------------------------------------------------------------


def test_service_names_follow_cloud_runs_rules_and_differ_per_revision():
    assert cloud_run.service_name_for("my-org/my-service:abc1234") == "my-org-my-service-abc1234"
    sruids = [
        "my-org/my-service:1.2.0",
        "my-org/my-service:1-2-0",
        "my-org/my-service:RC1",
        "my-org/my-service:rc1",
        "my-org/my-service:v_1",
        "1org/svc:v1",
        "a-rather-long-namespace/an-even-longer-service-name:2024-01-01",
        "a-rather-long-namespace/an-even-longer-service-name:2024-01-02",
    ]
    names = [cloud_run.service_name_for(sruid) for sruid in sruids]
    assert len(set(names)) == len(names), names
    for name in names:
        assert cloud_run.is_valid_service_name(name) and len(name) <= 49, name
        assert name[0].isalpha() and not name.endswith("-"), name
    assert names[0].startswith("my-org-my-service-1-2-0-") and names[5].startswith("s-1org-svc-v1-")
    assert names == [cloud_run.service_name_for(sruid) for sruid in sruids]  # stable across deployments


def test_the_request_timeout_covers_the_question_time_limit_up_to_cloud_runs_maximum():
    assert cloud_run.request_timeout(120) == 180
    assert cloud_run.request_timeout(None) == 3600  # the default limit, one hour, is Cloud Run's maximum
    assert cloud_run.request_timeout(10_000) == 3600


# --- against the stand-ins ------------------------------------------------------------------------


def test_creates_the_service_grants_the_pusher_and_creates_the_push_subscription_stand_in_for_the_google_api(
    tmp_path, revision, topic, subscriber, capsys
):
    service_dir = write_service(tmp_path / "service", service={"question_timeout": 120})
    policy = {"etag": "BwYAAAA=", "bindings": [{"role": "roles/run.admin", "members": ["user:a@example.com"]}]}
    with GoogleApiStandIn() as standin:
        name = route_cloud_run(standin, revision, policy=policy)
        assert deploy(service_dir, revision, topic, standin, *SIZING) == 0
        requests = [(r.method, r.path) for r in standin.requests]

    assert requests == [
        ("GET", f"/v2/{PARENT}/services/{name}"),
        ("POST", f"/v2/{PARENT}/services"),
        ("GET", f"/v2/{PARENT}/operations/deploy-1"),
        ("GET", f"/v2/{PARENT}/services/{name}:getIamPolicy"),
        ("POST", f"/v2/{PARENT}/services/{name}:setIamPolicy"),
    ]
    create = standin.requests[1]
    assert create.query["serviceId"] == [name]
    assert create.json == expected_service_body(revision, topic, "180s")  # question_timeout 120 s + 60 s
    service = run_v2.Service.pb(run_v2.Service())
    json_format.ParseDict(create.json, service)  # a valid google.cloud.run.v2.Service
    assert service.template.scaling.min_instance_count == 0  # scales to zero
    assert not service.invoker_iam_disabled  # IAM checked: no unauthenticated access
    assert standin.requests[4].json["policy"]["bindings"] == [
        {"role": "roles/run.admin", "members": ["user:a@example.com"]},
        {"role": "roles/run.invoker", "members": [f"serviceAccount:{PUSHER}"]},
    ]
    assert standin.requests[4].json["policy"]["etag"] == "BwYAAAA="

    subscription = subscriber.get_subscription(
        subscription=f"projects/{PROJECT}/subscriptions/test-org.test-service.{revision}"
    )
    assert_push_subscription(subscription, revision, topic)
    assert "expiration_policy" in subscription  # set, without a ttl: Pub/Sub's default would expire it in 31 days
    out = capsys.readouterr().out
    assert f"Cloud Run service {PARENT}/services/{name} created for test-org/test-service:{revision}: {URI}" in out
    assert f"Push subscription projects/{PROJECT}/subscriptions/test-org.test-service.{revision} created" in out


def test_updates_an_existing_service_and_subscription_stand_in_for_the_google_api(
    tmp_path, revision, topic, subscriber, capsys
):
    service_dir = write_service(tmp_path / "service", service={"question_timeout": 120})
    name = f"test-org-test-service-{revision}"
    subscription_name = f"projects/{PROJECT}/subscriptions/test-org.test-service.{revision}"
    publisher = new_client(pubsub_v1.PublisherClient)
    publisher.create_topic(name=f"projects/{PROJECT}/topics/{topic}")
    subscriber.create_subscription(
        request={
            "name": subscription_name,
            "topic": f"projects/{PROJECT}/topics/{topic}",
            "filter": (
                f'attributes.recipient = "test-org/test-service:{revision}" AND attributes.sender_type = "PARENT"'
            ),
            "push_config": {"push_endpoint": "https://an-older-uri.a.run.app"},
            "ack_deadline_seconds": 10,
        }
    )
    existing = service_resource(name, URI, sruid_environment(revision))
    policy = {"etag": "BwYBBBB=", "bindings": [{"role": "roles/run.invoker", "members": [f"serviceAccount:{PUSHER}"]}]}
    with GoogleApiStandIn() as standin:
        route_cloud_run(standin, revision, existing=existing, policy=policy)
        assert deploy(service_dir, revision, topic, standin, *SIZING) == 0

    assert [(r.method, r.path) for r in standin.requests] == [
        ("GET", f"/v2/{PARENT}/services/{name}"),
        ("PATCH", f"/v2/{PARENT}/services/{name}"),
        ("GET", f"/v2/{PARENT}/operations/deploy-1"),
        ("GET", f"/v2/{PARENT}/services/{name}:getIamPolicy"),  # already an invoker: no setIamPolicy
    ]
    update = standin.requests[1]
    assert update.json == expected_service_body(revision, topic, "180s")  # the name is the path
    assert_push_subscription(subscriber.get_subscription(subscription=subscription_name), revision, topic)
    out = capsys.readouterr().out
    assert f"{name} updated for test-org/test-service:{revision}" in out
    assert f"Push subscription {subscription_name} updated" in out

    # Deploying the same again changes nothing in Pub/Sub.
    with GoogleApiStandIn() as standin:
        route_cloud_run(standin, revision, existing=existing, policy=policy)
        assert deploy(service_dir, revision, topic, standin, *SIZING) == 0
    assert f"Push subscription {subscription_name} unchanged" in capsys.readouterr().out
    publisher.transport.close()


def test_a_service_serving_another_revision_is_never_replaced_stand_in_for_the_google_api(
    tmp_path, revision, topic, subscriber, capsys
):
    service_dir = write_service(tmp_path / "service")
    name = f"test-org-test-service-{revision}"
    other = {**sruid_environment(revision), "OCTUE_SERVICE_NAMESPACE": "test"}  # test/org-test-service:<revision>
    with GoogleApiStandIn() as standin:
        route_cloud_run(standin, revision, existing=service_resource(name, URI, other))
        assert deploy(service_dir, revision, topic, standin) == 1
    assert [(r.method, r.path) for r in standin.requests] == [("GET", f"/v2/{PARENT}/services/{name}")]
    error = capsys.readouterr().err
    assert f"The Cloud Run service {PARENT}/services/{name} already exists and serves " in error
    assert f"'test/test-service:{revision}', not 'test-org/test-service:{revision}'" in error


def test_a_subscription_of_another_revision_with_the_same_name_stops_the_deployment_before_it_starts(
    tmp_path, revision, topic, subscriber, capsys
):
    """`<tag>.0` and `<tag>-0` share the subscription name `...<tag>-0`; Pub/Sub cannot change a filter, so the
    second revision is refused before Cloud Run is called, naming the subscription and both filters."""
    service_dir = write_service(tmp_path / "service")
    publisher = new_client(pubsub_v1.PublisherClient)
    publisher.create_topic(name=f"projects/{PROJECT}/topics/{topic}")
    other_filter = f'attributes.recipient = "test-org/test-service:{revision}-0" AND attributes.sender_type = "PARENT"'
    subscription_name = f"projects/{PROJECT}/subscriptions/test-org.test-service.{revision}-0"
    subscriber.create_subscription(
        request={"name": subscription_name, "topic": f"projects/{PROJECT}/topics/{topic}", "filter": other_filter}
    )
    publisher.transport.close()
    with GoogleApiStandIn() as standin:
        assert deploy(service_dir, f"{revision}.0", topic, standin) == 1
    assert standin.requests == []
    error = capsys.readouterr().err
    assert f"The subscription {subscription_name} already exists with the filter {other_filter!r}, not " in error
    assert subscriber.get_subscription(subscription=subscription_name).filter == other_filter


def test_a_google_api_error_is_one_line_naming_the_call_and_the_reason_stand_in_for_the_google_api(
    tmp_path, revision, topic, subscriber, capsys
):
    service_dir = write_service(tmp_path / "service")
    name = f"test-org-test-service-{revision}"
    denied = {
        "error": {
            "code": 403,
            "message": f"Permission 'run.services.create' denied on resource '{PARENT}/services/{name}'.",
            "status": "PERMISSION_DENIED",
            "details": [
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "IAM_PERMISSION_DENIED",
                 "domain": "run.googleapis.com"}
            ],
        }
    }
    with GoogleApiStandIn() as standin:
        route_cloud_run(standin, revision, create=(403, denied))
        assert deploy(service_dir, revision, topic, standin) == 1
    assert [r.method for r in standin.requests] == ["GET", "POST"]
    error_lines = capsys.readouterr().err.splitlines()
    assert error_lines[0] == (
        f"octue-beam deploy: Cloud Run create_service ({PARENT}/services/{name}) failed: 403 Forbidden "
        f"(IAM_PERMISSION_DENIED): Permission 'run.services.create' denied on resource '{PARENT}/services/{name}'."
    )
    assert error_lines[1:] == ["(run with --debug for the full traceback)"]
    with pytest.raises(api_exceptions.NotFound):  # no subscription for a service that is not there
        subscriber.get_subscription(subscription=f"projects/{PROJECT}/subscriptions/test-org.test-service.{revision}")


def test_an_existing_subscription_is_updated_in_the_fields_that_differ_only():
    """The update mask of an existing subscription. The emulator refuses updates of expiration_policy, so the one
    field it cannot exercise, an existing subscription expiring after Pub/Sub's default 31 days, is checked here."""
    wanted = push_subscription.push_subscription(PROJECT, "test-org/test-service:abc", URI, PUSHER)
    same = pubsub_v1.types.Subscription(wanted)
    assert push_subscription.fields_to_update(same, wanted) == []
    expiring = pubsub_v1.types.Subscription(wanted)
    expiring.expiration_policy.ttl = duration_pb2.Duration(seconds=31 * 24 * 3600)
    expiring.ack_deadline_seconds = 10
    assert push_subscription.fields_to_update(expiring, wanted) == ["ack_deadline_seconds", "expiration_policy"]
    elsewhere = pubsub_v1.types.Subscription(wanted)
    elsewhere.push_config.push_endpoint = "https://an-older-uri.a.run.app"
    elsewhere.retry_policy = pubsub_v1.types.RetryPolicy()
    assert push_subscription.fields_to_update(elsewhere, wanted) == ["push_config", "retry_policy"]


# --- without the network --------------------------------------------------------------------------


def parse_dry_run(output: str) -> tuple[list[str], list[object]]:
    """The comment lines and the JSON documents of a dry run's output (commands are lines outside both)."""
    comments, documents, block = [], [], []
    for line in output.splitlines() + ["# end"]:
        if line.startswith("#"):
            if block:
                documents.append(json.loads("\n".join(block)))
                block = []
            comments.append(line)
        elif line.startswith(("{", " ", "}")) or block:
            block.append(line)
    return comments, documents


def test_dry_run_prints_the_build_the_service_and_the_subscription_and_makes_no_client(tmp_path, monkeypatch, capsys):
    service_dir = write_service(tmp_path / "service", service={"question_timeout": 120})
    monkeypatch.delenv("OCTUE_SERVICE_REVISION_TAG", raising=False)
    arguments = [
        "deploy", "cloud-run", str(service_dir), "--project", PROJECT, "--region", REGION,
        "--image", f"{IMAGE}:abc1234", "--service-account", RUNNER, "--push-service-account", PUSHER,
        "--services-topic", "a-topic", *SIZING, "--dry-run",
    ]

    def no_clients(endpoint):
        raise AssertionError("a dry run made a client")

    assert deploy_cloud_run.handle(build_parser().parse_args(arguments), make_clients=no_clients) == 0
    output = capsys.readouterr().out
    comments, (service, subscription) = parse_dry_run(output)
    assert comments[0] == (
        "# Dry run: test-org/test-service:abc1234 as the Cloud Run service 'test-org-test-service-abc1234' in "
        f"{PROJECT}/{REGION}."
    )
    for command in build_commands(str(service_dir), "cloud-run", f"{IMAGE}:abc1234"):
        assert f"\n{command}\n" in output
    assert f"gcloud builds submit {service_dir} --tag {IMAGE}:abc1234" in output
    assert f"POST https://run.googleapis.com/v2/{PARENT}/services?serviceId=test-org-test-service-abc1234" in output
    expected = expected_service_body("abc1234", "a-topic", "180s")
    expected["ingress"] = "INGRESS_TRAFFIC_INTERNAL_ONLY"  # printed with enum names
    expected["launchStage"] = "GA"
    expected["traffic"][0]["type"] = "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST"
    assert service == expected
    assert f"# IAM: roles/run.invoker on the service for serviceAccount:{PUSHER}." in comments
    assert subscription == {
        "name": f"projects/{PROJECT}/subscriptions/test-org.test-service.abc1234",
        "topic": f"projects/{PROJECT}/topics/a-topic",
        "pushConfig": {
            "pushEndpoint": "<the Cloud Run service's URI>",
            "oidcToken": {"serviceAccountEmail": PUSHER},
        },
        "ackDeadlineSeconds": 600,
        "enableMessageOrdering": True,
        "expirationPolicy": {},
        "filter": 'attributes.recipient = "test-org/test-service:abc1234" AND attributes.sender_type = "PARENT"',
        "retryPolicy": {"minimumBackoff": "10s", "maximumBackoff": "600s"},
    }


def test_the_defaults_scale_to_zero_with_ten_instances_of_ten_questions_each_for_an_hour(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("TWINED_SERVICES_TOPIC_NAME", raising=False)
    service_dir = write_service(tmp_path / "service")  # no question_timeout: the default hour
    arguments = [
        "deploy", "cloud-run", str(service_dir), "--project", PROJECT, "--region", REGION,
        "--image", f"{IMAGE}:abc1234", "--push-service-account", PUSHER, "--dry-run",
    ]
    assert main(arguments) == 0
    _, (service, subscription) = parse_dry_run(capsys.readouterr().out)
    assert service["ingress"] == "INGRESS_TRAFFIC_INTERNAL_ONLY"
    template = service["template"]
    assert template["scaling"] == {"maxInstanceCount": 10}  # minInstanceCount 0, the default, is not sent
    assert template["timeout"] == "3600s"
    assert template["maxInstanceRequestConcurrency"] == 10
    assert "serviceAccount" not in template  # Cloud Run's default
    assert template["containers"][0]["resources"] == {"limits": {"cpu": "1", "memory": "512Mi"}, "cpuIdle": True}
    topic = {"name": "TWINED_SERVICES_TOPIC_NAME", "value": "main.octue.twined.services"}
    assert template["containers"][0]["env"][-1] == topic
    assert subscription["topic"] == f"projects/{PROJECT}/topics/main.octue.twined.services"


@pytest.mark.parametrize(
    "options, message",
    [
        (["--image", f"{IMAGE}:latest", "--push-service-account", PUSHER], "No revision tag for the service in"),
        (["--image", f"{IMAGE}:abc1234"], "Give --push-service-account"),
        (
            ["--image", f"{IMAGE}:abc1", "--push-service-account", PUSHER, "--services-topic", "projects/x/topics/a"],
            "is in the project 'x', not 'octue-beam-test'",
        ),
        (
            ["--image", f"{IMAGE}:abc1234", "--push-service-account", PUSHER, "--timeout", "4000"],
            "request timeout must be between 1 and 3600 s",
        ),
    ],
    ids=["no revision tag", "no push account", "topic elsewhere", "timeout over the maximum"],
)
def test_bad_options_are_one_clear_error_before_any_client_is_made(tmp_path, monkeypatch, options, message):
    service_dir = write_service(tmp_path / "service")
    monkeypatch.delenv("OCTUE_SERVICE_REVISION_TAG", raising=False)
    arguments = ["deploy", "cloud-run", str(service_dir), "--project", PROJECT, "--region", REGION, *options]

    def no_clients(endpoint):
        raise AssertionError("a client was made")

    args = build_parser().parse_args(arguments)
    with pytest.raises(deploy_cloud_run.CommandError, match=message):
        deploy_cloud_run.handle(args, make_clients=no_clients)
