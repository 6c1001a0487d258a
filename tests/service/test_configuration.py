import json
import logging

import pytest
import yaml

from octue_beam.exceptions import InvalidServiceConfiguration
from octue_beam.service.configuration import load_service_configuration


def write_yaml(folder, service, name="octue.yaml"):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(yaml.safe_dump({"services": [service]}))
    return folder / name


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in (
        "OCTUE_SERVICE_NAMESPACE",
        "OCTUE_SERVICE_NAME",
        "OCTUE_SERVICE_REVISION_TAG",
        "OCTUE_SERVICE_CONFIGURATION_PATH",
    ):
        monkeypatch.delenv(name, raising=False)


def test_minimal_configuration_and_defaults(tmp_path):
    write_yaml(tmp_path, {"namespace": "my-org", "name": "my-service"})
    configuration = load_service_configuration(tmp_path)
    assert configuration.sruid == "my-org/my-service:local"
    assert configuration.app_source_path == tmp_path.resolve()
    assert configuration.twine_path == tmp_path.resolve() / "twine.json"
    assert configuration.output_location is None
    assert configuration.delete_local_files is False
    assert configuration.use_signed_urls_for_output_datasets is False


def test_every_octue_key(tmp_path):
    service = {
        "namespace": "my-org",
        "name": "my-service",
        "app_source_path": "src",
        "twine_path": "src/twine.json",
        "dockerfile_path": "Dockerfile",
        "diagnostics_cloud_path": "gs://my-bucket/diagnostics",
        "service_registries": [{"name": "Octue registry", "endpoint": "https://registry.example.com"}],
        "event_store_table_id": "octue_twined.service-events",
        "delete_local_files": True,
        "configuration_values": {"n": 1},
        "configuration_manifest": {"id": "x", "datasets": {}},
        "children": [
            {"key": "a", "id": "my-org/child:1.0", "backend": {"name": "GCPPubSubBackend", "project_id": "p"}}
        ],
        "output_location": "gs://my-bucket/outputs",
        "use_signed_urls_for_output_datasets": True,
    }
    write_yaml(tmp_path, service)
    configuration = load_service_configuration(tmp_path)
    assert configuration.app_source_path == tmp_path.resolve() / "src"
    assert configuration.twine_path == tmp_path.resolve() / "src" / "twine.json"
    assert configuration.dockerfile_path == tmp_path.resolve() / "Dockerfile"
    for key in (
        "diagnostics_cloud_path",
        "service_registries",
        "event_store_table_id",
        "delete_local_files",
        "configuration_values",
        "configuration_manifest",
        "children",
        "output_location",
        "use_signed_urls_for_output_datasets",
    ):
        assert getattr(configuration, key) == service[key], key


def test_app_configuration_file(tmp_path):
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "app.json").write_text(json.dumps({
        "configuration_values": {"n": 2},
        "configuration_manifest": {"datasets": {}},
        "children": [],
        "output_location": "gs://b/out",
    }))
    write_yaml(tmp_path, {"namespace": "my-org", "name": "my-service", "app_configuration_path": "config/app.json"})
    configuration = load_service_configuration(tmp_path)
    assert configuration.configuration_values == {"n": 2}
    assert configuration.configuration_manifest == {"datasets": {}}
    assert configuration.children == []
    assert configuration.output_location == "gs://b/out"


def test_octue_yaml_wins_over_the_app_configuration_file(tmp_path, caplog):
    (tmp_path / "app.json").write_text(json.dumps({"configuration_values": {"n": 2}}))
    write_yaml(
        tmp_path,
        {
            "namespace": "my-org",
            "name": "my-service",
            "app_configuration_path": "app.json",
            "configuration_values": {"n": 3},
        },
    )
    with caplog.at_level(logging.WARNING):
        assert load_service_configuration(tmp_path).configuration_values == {"n": 3}
    assert "set in both" in caplog.text


def test_missing_app_configuration_file(tmp_path):
    write_yaml(tmp_path, {"namespace": "my-org", "name": "my-service", "app_configuration_path": "missing.json"})
    with pytest.raises(InvalidServiceConfiguration, match="app_configuration_path: .*missing.json.* does not exist"):
        load_service_configuration(tmp_path)


def test_unknown_keys_warn(tmp_path, caplog):
    write_yaml(tmp_path, {"namespace": "my-org", "name": "my-service", "colour": "blue"})
    with caplog.at_level(logging.WARNING):
        load_service_configuration(tmp_path)
    assert "ignoring unknown keys ['colour']" in caplog.text


@pytest.mark.parametrize(
    "service, message",
    [
        ({"name": "my-service"}, "namespace: missing"),
        ({"namespace": "my-org"}, "name: missing"),
        ({"namespace": "My_Org", "name": "s"}, "namespace: .*kebab case"),
        ({"namespace": "example", "name": "s"}, "namespace: the namespace 'example' is reserved"),
        (
            {"namespace": "a", "name": "s", "output_location": "s3://bucket"},
            "output_location: 's3://bucket' must be a Cloud Storage path",
        ),
        ({"namespace": "a", "name": "s", "delete_local_files": "yes"}, "delete_local_files: must be true or false"),
        ({"namespace": "a", "name": "s", "service_registries": [{"name": "x"}]}, "service_registries: must be a list"),
    ],
)
def test_bad_values_name_the_file_and_key(tmp_path, service, message):
    path = write_yaml(tmp_path, service)
    with pytest.raises(InvalidServiceConfiguration, match=message) as error:
        load_service_configuration(tmp_path)
    assert str(path) in str(error.value)


def test_missing_file(tmp_path):
    with pytest.raises(InvalidServiceConfiguration, match="No service configuration file"):
        load_service_configuration(tmp_path)


def test_invalid_yaml(tmp_path):
    (tmp_path / "octue.yaml").write_text("services: [")
    with pytest.raises(InvalidServiceConfiguration, match="not valid YAML"):
        load_service_configuration(tmp_path)


def test_no_services(tmp_path):
    (tmp_path / "octue.yaml").write_text("services: []")
    with pytest.raises(InvalidServiceConfiguration, match="services: must be a non-empty list"):
        load_service_configuration(tmp_path)


def test_environment_overrides(tmp_path, monkeypatch):
    write_yaml(tmp_path, {"namespace": "my-org", "name": "my-service"})
    monkeypatch.setenv("OCTUE_SERVICE_NAMESPACE", "other-org")
    monkeypatch.setenv("OCTUE_SERVICE_NAME", "other-service")
    monkeypatch.setenv("OCTUE_SERVICE_REVISION_TAG", "1.2.0")
    assert load_service_configuration(tmp_path).sruid == "other-org/other-service:1.2.0"
    assert load_service_configuration(tmp_path, revision_tag="2.0.0").sruid == "other-org/other-service:2.0.0"


def test_configuration_path_override(tmp_path, monkeypatch):
    path = write_yaml(tmp_path / "elsewhere", {"namespace": "my-org", "name": "from-env"}, name="service.yaml")
    monkeypatch.setenv("OCTUE_SERVICE_CONFIGURATION_PATH", str(path))
    configuration = load_service_configuration(tmp_path)
    assert configuration.name == "from-env"
    assert configuration.directory == path.parent.resolve()


def test_invalid_revision_tag(tmp_path):
    write_yaml(tmp_path, {"namespace": "my-org", "name": "my-service"})
    with pytest.raises(InvalidServiceConfiguration, match="revision tag"):
        load_service_configuration(tmp_path, revision_tag="bad tag!")


def _two_services(tmp_path):
    (tmp_path / "octue.yaml").write_text(
        yaml.safe_dump(
            {
                "services": [
                    {"namespace": "my-org", "name": "first", "app_source_path": "first", "twine_path": "first/t.json"},
                    {"namespace": "my-org", "name": "second", "app_source_path": "second", "question_timeout": 5},
                ]
            }
        )
    )
    return tmp_path


def test_several_services_are_chosen_by_name(tmp_path):
    directory = _two_services(tmp_path)
    second = load_service_configuration(directory, service_name="second")
    assert second.sruid == "my-org/second:local"
    assert second.app_source_path == directory.resolve() / "second"
    assert second.question_timeout == 5.0
    first = load_service_configuration(directory, service_name="first")
    assert (first.name, first.twine_path) == ("first", directory.resolve() / "first" / "t.json")


def test_several_services_without_a_choice_is_an_error_listing_them(tmp_path, monkeypatch):
    monkeypatch.delenv("OCTUE_SERVICE_NAME", raising=False)
    with pytest.raises(InvalidServiceConfiguration, match=r"lists 2 services \(first, second\).*--service NAME"):
        load_service_configuration(_two_services(tmp_path))


def test_an_unknown_service_name_is_an_error_naming_the_known_ones(tmp_path):
    with pytest.raises(InvalidServiceConfiguration, match=r"no service named 'third' \(it lists: first, second\)"):
        load_service_configuration(_two_services(tmp_path), service_name="third")


def test_octue_service_name_chooses_among_several_services(tmp_path, monkeypatch):
    """A container built for one service of a repository says which with $OCTUE_SERVICE_NAME (as Octue's images do);
    with several services it chooses rather than renames."""
    monkeypatch.setenv("OCTUE_SERVICE_NAME", "second")
    assert load_service_configuration(_two_services(tmp_path)).sruid == "my-org/second:local"
