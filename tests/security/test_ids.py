"""IDs are validated before they are used in Pub/Sub names, subscription filters or paths: the service's own SRUID
(from octue.yaml and the revision tag), a parent's SRUID, and the names derived from them. (IDs that arrive in
messages are covered by tests/fuzz/test_bad_input.py.)"""

import pytest

from octue_beam.asking.asking import prepare_question
from octue_beam.exceptions import InvalidServiceConfiguration, InvalidServiceID
from octue_beam.messaging import pubsub
from octue_beam.messaging.sruid import create_sruid, to_pub_sub_form
from octue_beam.service.configuration import load_service_configuration
from tests.fuzz.messages import INJECTIONS
from tests.support.service_dirs import write_service

NOT_SERVICE_IDS = [value for value in INJECTIONS if value] + ["my-org/my-service:1.0.0\n", 'a/b:1" OR "x', "a/b/c"]


@pytest.mark.parametrize("value", NOT_SERVICE_IDS)
def test_pub_sub_names_are_only_made_from_valid_service_ids(value):
    for make_name in (to_pub_sub_form, pubsub.service_subscription_name,
                      lambda sruid: pubsub.answer_subscription_name(sruid, "suffix")):
        with pytest.raises(InvalidServiceID):
            make_name(value)


@pytest.mark.parametrize(
    "name, revision_tag",
    [('my-service" OR attributes.recipient = "x', None), ("my-service", 'v1" OR "'), ("my-service", "v1\n"),
     ("my-service", "../../v1"), ("My-Service", None)],
)
def test_a_service_whose_sruid_could_inject_into_its_filter_is_refused_at_load(tmp_path, name, revision_tag):
    """The service's subscription filter is built from its SRUID, which is checked when its octue.yaml is read."""
    service_dir = write_service(tmp_path / "service", service={"name": name})
    with pytest.raises((InvalidServiceConfiguration, InvalidServiceID)):
        load_service_configuration(service_dir, revision_tag=revision_tag)
    with pytest.raises(InvalidServiceID):
        create_sruid("my-org", name, revision_tag or "v1")


@pytest.mark.parametrize("parent_sruid", NOT_SERVICE_IDS)
def test_a_parent_sruid_is_validated_before_its_answer_subscription_and_filter_are_made(parent_sruid):
    with pytest.raises(InvalidServiceID):
        prepare_question("my-org/my-service:1.0.0", {"n": 1}, parent_sruid=parent_sruid)
