import io
import json
import os
from types import SimpleNamespace

import pytest

from octue_beam import Twine, exceptions

VALUES_TWINE = {
    "configuration_values_schema": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]},
    "input_values_schema": {
        "type": "object",
        "properties": {"height": {"type": "number", "minimum": 0}},
        "required": ["height"],
    },
    "output_values_schema": {"type": "object", "properties": {"result": {"type": "array"}}, "required": ["result"]},
    "monitor_message_schema": {
        "type": "object",
        "properties": {"progress": {"type": "number"}},
        "required": ["progress"],
    },
}


class TestLoading:
    def test_from_dict_json_string_path_and_file_object(self, tmp_path):
        path = tmp_path / "twine.json"
        path.write_text(json.dumps(VALUES_TWINE))
        for source in (VALUES_TWINE, json.dumps(VALUES_TWINE), str(path), path, io.StringIO(json.dumps(VALUES_TWINE))):
            twine = Twine(source=source)
            assert twine.available_strands == {
                "configuration_values",
                "input_values",
                "output_values",
                "monitor_message",
            }

    def test_duplicate_keys_are_an_error(self):
        with pytest.raises(exceptions.InvalidTwineJson, match="duplicate key 'input_values_schema'"):
            Twine(source='{"input_values_schema": {}, "input_values_schema": {}}')

    def test_invalid_json(self):
        with pytest.raises(exceptions.InvalidTwineJson, match="not valid JSON"):
            Twine(source='{"input_values_schema": ')

    def test_missing_file(self, tmp_path):
        with pytest.raises(exceptions.InvalidTwineJson, match="does not exist"):
            Twine(source=str(tmp_path / "nope.json"))

    def test_twine_is_checked_against_the_meta_schema(self):
        with pytest.raises(exceptions.InvalidTwineContents, match=r"\$\.credentials\[0\]\.name"):
            Twine(source={"credentials": [{"name": "lower_case", "purpose": "x"}]})

    def test_list_form_manifest_datasets_are_rejected_as_in_octue(self):
        with pytest.raises(exceptions.InvalidTwineContents, match=r"\$\.input_manifest\.datasets"):
            Twine(source={"input_manifest": {"datasets": [{"key": "a"}]}})

    def test_invalid_embedded_schema_names_the_strand(self):
        with pytest.raises(exceptions.InvalidTwineContents, match="'input_values_schema' strand is not a valid schema"):
            Twine(source={"input_values_schema": {"type": "not-a-type"}})

    def test_extra_top_level_keys_are_allowed(self):
        twine = Twine(
            source={"title": "t", "description": "d", "notes": "n", "twined_version": "0.69.0", **VALUES_TWINE}
        )
        assert "input_values" in twine.available_strands

    def test_empty_twine(self):
        assert Twine(source={}).available_strands == set()

    def test_validators_are_compiled_once(self, monkeypatch):
        twine = Twine(source=VALUES_TWINE)
        import octue_beam.twine.twine as twine_module

        def fail(*args, **kwargs):
            raise AssertionError("compiled again")

        monkeypatch.setattr(twine_module, "compile_validator", fail)
        for height in range(3):
            twine.validate(input_values={"height": height}, configuration_values={"n": 1})


class TestValuesStrands:
    @pytest.mark.parametrize(
        "strand, valid, invalid, path",
        [
            ("configuration_values", {"n": 3}, {"n": "3"}, "$.n"),
            ("input_values", {"height": 1.5}, {"height": -1}, "$.height"),
            ("output_values", {"result": [1]}, {"result": 1}, "$.result"),
            ("monitor_message", {"progress": 0.5}, {}, "$"),
        ],
    )
    def test_valid_and_invalid(self, strand, valid, invalid, path):
        twine = Twine(source=VALUES_TWINE)
        assert getattr(twine, f"validate_{strand}")(valid) == valid
        expected = exceptions.InvalidMonitorMessage if strand == "monitor_message" else exceptions.InvalidValuesContents
        with pytest.raises(expected) as error:
            getattr(twine, f"validate_{strand}")(invalid)
        assert strand in str(error.value) and f"at {path}:" in str(error.value)

    def test_values_from_a_json_string_or_file(self, tmp_path):
        twine = Twine(source=VALUES_TWINE)
        assert twine.validate_input_values('{"height": 2}') == {"height": 2}
        path = tmp_path / "values.json"
        path.write_text('{"height": 3}')
        assert twine.validate_input_values(str(path)) == {"height": 3}
        with pytest.raises(exceptions.InvalidValuesJson):
            twine.validate_input_values('{"height": ')

    def test_extra_values_are_allowed_unless_the_schema_says_otherwise(self):
        assert Twine(source=VALUES_TWINE).validate_input_values({"height": 1, "other": 2})

    def test_draft_is_taken_from_dollar_schema(self):
        draft7 = {
            "input_values_schema": {
                "$schema": "http://json-schema.org/draft-07/schema#",
                "type": "array",
                "items": [{"type": "string"}],
            }
        }
        twine = Twine(source=draft7)
        twine.validate_input_values(["a", 1])
        with pytest.raises(exceptions.InvalidValuesContents, match=r"\$\[0\]"):
            twine.validate_input_values([1])

    def test_default_draft_is_2020_12(self):
        twine = Twine(source={"input_values_schema": {"type": "array", "prefixItems": [{"type": "string"}]}})
        with pytest.raises(exceptions.InvalidValuesContents):
            twine.validate_input_values([1])

    def test_formats_are_not_checked_as_in_octue(self):
        Twine(source={"input_values_schema": {"type": "string", "format": "email"}}).validate_input_values(
            '"not an email"'
        )

    def test_loaded_strings_are_values_not_json(self):
        twine = Twine(source={"input_values_schema": {"type": "string"}})
        assert twine.validate(input_values="plain text", loaded=True) == {"input_values": "plain text"}

    def test_remote_refs_are_never_fetched(self):
        twine = Twine(source={"input_values_schema": {"$ref": "https://example.com/schema.json"}})
        with pytest.raises(exceptions.InvalidValuesContents, match="never fetched over the network"):
            twine.validate_input_values({})


class TestRequiredAndOptionalStrands:
    def test_required_strand_without_data(self):
        with pytest.raises(exceptions.TwineValueException, match="'input_values' strand is defined in the twine"):
            Twine(source=VALUES_TWINE).validate(input_values=None)

    def test_optional_strand_without_data(self):
        twine = Twine(
            source={
                "input_values_schema": {"optional": True, "type": "object"},
                "input_manifest": {"optional": True, "datasets": {}},
            }
        )
        assert twine.required_strands == set()
        assert twine.validate(input_values=None, input_manifest=None) == {"input_values": None, "input_manifest": None}

    def test_data_for_a_strand_the_twine_does_not_define(self):
        with pytest.raises(exceptions.StrandNotFound, match="'input_manifest'"):
            Twine(source=VALUES_TWINE).validate(input_manifest={"datasets": {}})

    def test_validating_a_missing_strand_directly(self):
        with pytest.raises(exceptions.StrandNotFound):
            Twine(source={}).validate_input_values({})


MANIFEST_TWINE = {
    "input_manifest": {
        "datasets": {
            "met_mast_data": {
                "purpose": "wind data",
                "file_tags_template": {
                    "type": "object",
                    "properties": {"height": {"type": "number"}},
                    "required": ["height"],
                },
            },
            "extras": {"optional": True},
        }
    },
    "output_manifest": {"optional": True, "datasets": {"results": {}}},
}


class TestManifestStrands:
    def test_valid_manifest(self):
        manifest = {"id": "8ead7669-8162-4f64-8cd5-4abe92509e17", "name": None, "datasets": {"met_mast_data": "gs://bucket/data"}}
        assert Twine(source=MANIFEST_TWINE).validate_input_manifest(manifest) == manifest

    def test_missing_required_dataset(self):
        with pytest.raises(
            exceptions.InvalidManifestContents,
            match="A dataset named 'met_mast_data' is expected in the input_manifest",
        ):
            Twine(source=MANIFEST_TWINE).validate_input_manifest({"datasets": {"extras": "gs://b/x"}})

    def test_manifest_without_datasets(self):
        with pytest.raises(exceptions.InvalidManifestContents, match="'datasets' is a required property"):
            Twine(source=MANIFEST_TWINE).validate_input_manifest({"id": "x"})

    def test_optional_manifest_strand(self):
        assert Twine(source=MANIFEST_TWINE).validate(output_manifest=None) == {"output_manifest": None}

    def _manifest(self, tags):
        datafile = SimpleNamespace(name="mast-1.csv", tags=tags)
        return SimpleNamespace(datasets={"met_mast_data": SimpleNamespace(files=[datafile])})

    def test_file_tags_template(self):
        twine = Twine(source=MANIFEST_TWINE)
        twine.validate_file_tags("input_manifest", self._manifest({"height": 10}))
        with pytest.raises(exceptions.InvalidManifestContents) as error:
            twine.validate_file_tags("input_manifest", self._manifest({"heights": 10}))
        message = str(error.value)
        assert (
            "'mast-1.csv'" in message and "'met_mast_data'" in message and "'height' is a required property" in message
        )


CHILDREN_TWINE = {"children": [{"key": "wind_speed", "purpose": "wind"}, {"key": "elevation", "notes": "height"}]}


def child(key, id="my-org/a-service:1.0.0"):
    return {"key": key, "id": id, "backend": {"name": "GCPPubSubBackend", "project_id": "my-project"}}


class TestChildren:
    def test_valid(self):
        children = [child("wind_speed"), child("elevation")]
        assert Twine(source=CHILDREN_TWINE).validate_children(children) == children

    def test_every_key_needs_a_child(self):
        with pytest.raises(exceptions.InvalidValuesContents, match="No children found matching the key 'elevation'"):
            Twine(source=CHILDREN_TWINE).validate_children([child("wind_speed")])

    def test_unknown_keys_are_an_error(self):
        with pytest.raises(exceptions.InvalidValuesContents, match=r"\$\[2\]\.key: child with key 'temperature'"):
            Twine(source=CHILDREN_TWINE).validate_children(
                [child("wind_speed"), child("elevation"), child("temperature")]
            )

    def test_children_shape(self):
        with pytest.raises(exceptions.InvalidValuesContents, match="'backend' is a required property"):
            Twine(source=CHILDREN_TWINE).validate_children([{"key": "wind_speed", "id": "a/b:c"}])

    def test_unknown_backend(self):
        bad = child("wind_speed")
        bad["backend"]["name"] = "AWSBackend"
        with pytest.raises(exceptions.InvalidValuesContents, match=r"\$\[0\]\.backend\.name"):
            Twine(source=CHILDREN_TWINE).validate_children([bad, child("elevation")])


class TestCredentials:
    TWINE = {"credentials": [{"name": "SECRET_THE_FIRST", "purpose": "x"}, {"name": "SECRET_THE_SECOND"}]}

    def test_from_environment(self, monkeypatch):
        monkeypatch.setenv("SECRET_THE_FIRST", "a")
        monkeypatch.setenv("SECRET_THE_SECOND", "b")
        assert Twine(source=self.TWINE).validate_credentials() == self.TWINE["credentials"]

    def test_missing(self, monkeypatch, tmp_path):
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("SECRET_THE_FIRST", "a")
        monkeypatch.delenv("SECRET_THE_SECOND", raising=False)
        with pytest.raises(exceptions.CredentialNotFound, match="'SECRET_THE_SECOND'"):
            Twine(source=self.TWINE).validate_credentials()

    def test_from_dotenv_file(self, monkeypatch, tmp_path):
        for name in ("SECRET_THE_FIRST", "SECRET_THE_SECOND"):
            monkeypatch.delenv(name, raising=False)
        dotenv = tmp_path / ".env"
        dotenv.write_text("SECRET_THE_FIRST=a\nexport SECRET_THE_SECOND=b\n")
        try:
            Twine(source=self.TWINE).validate_credentials(dotenv_path=str(dotenv))
            assert os.environ["SECRET_THE_SECOND"] == "b"
        finally:
            for name in ("SECRET_THE_FIRST", "SECRET_THE_SECOND"):
                os.environ.pop(name, None)

    def test_from_secret_manager_with_a_fake_client(self, monkeypatch):
        """Secret Manager cannot run on these machines: a fake client stands in for the Google API."""
        from octue_beam.twine.credentials import populate_from_secret_manager

        monkeypatch.setenv("SECRET_THE_FIRST", "already set")
        monkeypatch.delenv("SECRET_THE_SECOND", raising=False)
        asked = []

        class FakeClient:
            def access_secret_version(self, name):
                asked.append(name)
                return SimpleNamespace(payload=SimpleNamespace(data=b"from-secret-manager"))

        loaded = populate_from_secret_manager(
            ["SECRET_THE_FIRST", "SECRET_THE_SECOND"], "my-project", client=FakeClient()
        )
        assert loaded == ["SECRET_THE_SECOND"]
        assert asked == ["projects/my-project/secrets/SECRET_THE_SECOND/versions/latest"]
        assert os.environ["SECRET_THE_SECOND"] == "from-secret-manager"
        Twine(source=self.TWINE).validate_credentials()


class TestOctueTwine:
    """A twine written for Octue 0.69 (its docs' quick reference) accepts and rejects the same data."""

    OCTUE_TWINE = {
        "input_values_schema": {
            "type": "object",
            "required": ["n"],
            "properties": {"n": {"type": "integer", "minimum": 0}},
        },
        "output_values_schema": {
            "type": "object",
            "properties": {"fibonacci": {"type": "array", "items": {"type": "integer"}}},
        },
        "output_manifest": {"datasets": {"example_dataset": {}}},
        "input_manifest": {
            "datasets": {
                "met_mast_data": {
                    "purpose": "...",
                    "optional": True,
                    "file_tags_template": {
                        "type": "object",
                        "properties": {"height": {"type": "number"}},
                        "required": ["height"],
                    },
                }
            }
        },
        "children": [{"key": "elevation", "purpose": "..."}],
        "credentials": [{"name": "WEATHER_API_SECRET_KEY", "purpose": "..."}],
        "monitor_message_schema": {"type": "object", "properties": {"progress": {"type": "number"}}},
    }

    def test_strands(self):
        twine = Twine(source=self.OCTUE_TWINE)
        assert twine.available_strands == {
            "input_values",
            "output_values",
            "output_manifest",
            "input_manifest",
            "children",
            "credentials",
            "monitor_message",
        }
        # As in Octue, only object strands without "optional": true are required (lists never are).
        assert twine.required_strands == {
            "input_values",
            "output_values",
            "output_manifest",
            "input_manifest",
            "monitor_message",
        }

    @pytest.mark.parametrize(
        "values, accepted",
        [({"n": 3}, True), ({"n": -1}, False), ({}, False), ({"n": 1.5}, False), ({"n": 2, "x": 1}, True)],
    )
    def test_input_values_decisions(self, values, accepted):
        twine = Twine(source=self.OCTUE_TWINE)
        if accepted:
            twine.validate_input_values(values)
        else:
            with pytest.raises(exceptions.InvalidValuesContents):
                twine.validate_input_values(values)

    def test_optional_dataset_may_be_missing(self):
        Twine(source=self.OCTUE_TWINE).validate_input_manifest({"id": "x", "datasets": {}})
