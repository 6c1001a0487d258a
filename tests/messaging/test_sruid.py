import pytest

from octue_beam.exceptions import InvalidServiceID
from octue_beam.messaging import sruid


@pytest.mark.parametrize(
    "value", ["my-org/my-service:1.2.0", "a/b:latest", "a1/b-2:v_1.0-rc.1", "octue/example-service:0.1.0"]
)
def test_valid_sruids(value):
    assert sruid.validate_sruid(value) == value


@pytest.mark.parametrize(
    "value", ["my-org/my-service", "My-Org/s:1", "a/b:", "a/b:-1", "a//b:1", "a/b:c:d", "a-/b:1", "a/b:" + "x" * 129]
)
def test_invalid_sruids(value):
    with pytest.raises(InvalidServiceID):
        sruid.validate_sruid(value)


def test_service_id_without_tag():
    assert sruid.split_service_id("my-org/my-service") == ("my-org", "my-service", None)
    with pytest.raises(InvalidServiceID, match="no revision tag"):
        sruid.split_service_id("my-org/my-service", require_revision_tag=True)


def test_pub_sub_form():
    assert sruid.to_pub_sub_form("my-org/my-svc:1.2.0") == "my-org.my-svc.1-2-0"
    assert sruid.to_pub_sub_form("my-org/my-svc") == "my-org.my-svc"


def test_random_parent_sruid_is_valid():
    assert sruid.validate_sruid(sruid.random_parent_sruid())
