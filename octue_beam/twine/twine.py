"""`Twine`: the schema of a service's inputs, outputs, configuration, children and credentials.

Drop-in for the Octue SDK's `Twine` (same constructor, `validate(**strands)` and `validate_<strand>` methods,
same accept/reject decisions), except that no schema is ever fetched over the network and every validator is
compiled once per twine.
"""

import logging
import os
from typing import Any

import jsonschema.exceptions
from dotenv import load_dotenv

from octue_beam import exceptions, serialisation
from octue_beam.schemas import load_schema
from octue_beam.twine.loading import load_json_source
from octue_beam.twine.validation import check, compile_validator

logger = logging.getLogger(__name__)

SCHEMA_STRANDS = ("input_values", "configuration_values", "output_values", "monitor_message")
MANIFEST_STRANDS = ("configuration_manifest", "input_manifest", "output_manifest")
CREDENTIAL_STRANDS = ("credentials",)
CHILDREN_STRANDS = ("children",)
ALL_STRANDS = (*SCHEMA_STRANDS, *MANIFEST_STRANDS, *CREDENTIAL_STRANDS, *CHILDREN_STRANDS)

_INVALID_JSON = {
    "twine": exceptions.InvalidTwineJson,
    **dict.fromkeys(SCHEMA_STRANDS + CHILDREN_STRANDS + CREDENTIAL_STRANDS, exceptions.InvalidValuesJson),
    **dict.fromkeys(MANIFEST_STRANDS, exceptions.InvalidManifestJson),
}
_INVALID_CONTENTS = {
    **dict.fromkeys(SCHEMA_STRANDS + CHILDREN_STRANDS, exceptions.InvalidValuesContents),
    "monitor_message": exceptions.InvalidMonitorMessage,
    **dict.fromkeys(MANIFEST_STRANDS, exceptions.InvalidManifestContents),
}

_meta_validators: dict[str, Any] = {}


def _vendored_validator(name: str) -> Any:
    if name not in _meta_validators:
        _meta_validators[name] = compile_validator(load_schema(name), name)
    return _meta_validators[name]


def _strand_key(strand: str) -> str:
    return f"{strand}_schema" if strand in SCHEMA_STRANDS else strand


def _strand_name(key: str) -> str:
    return key[: -len("_schema")] if key.endswith("_schema") else key


class Twine:
    """A twine loaded from `source`: a path to a JSON file, a JSON string, a file object or a dict.

    Duplicate JSON keys are an error; the twine is checked against a vendored meta-schema and every schema it
    contains is checked and compiled once.
    """

    def __init__(self, source: Any = None, **kwargs: Any) -> None:
        if source is None:
            source = kwargs.pop("twine", None)
        self._raw = self._load(source)
        self._available_strands: set[str] = set()
        self._required_strands: set[str] = set()
        self._validators: dict[str, Any] = {}
        self._file_tag_validators: dict[tuple[str, str], Any] = {}

        for key, strand in self._raw.items():
            setattr(self, key, strand)
            name = _strand_name(key)
            if name not in ALL_STRANDS:
                continue
            self._available_strands.add(name)
            if isinstance(strand, dict) and not strand.get("optional", False):
                self._required_strands.add(name)
            if name in SCHEMA_STRANDS:
                self._validators[name] = self._compile(strand, f"the {key!r} strand")
            elif name in MANIFEST_STRANDS:
                for dataset_key, dataset in strand.get("datasets", {}).items():
                    if "file_tags_template" in dataset:
                        self._file_tag_validators[(name, dataset_key)] = self._compile(
                            dataset["file_tags_template"],
                            f"the file_tags_template of dataset {dataset_key!r} in the {key!r} strand",
                        )

    # --- loading ------------------------------------------------------------------------------------

    @staticmethod
    def _load(source: Any) -> dict:
        if source is None:
            logger.warning("No twine source given: using an empty twine.")
            return {}
        try:
            raw, where = load_json_source(source)
        except FileNotFoundError as error:
            raise exceptions.InvalidTwineJson(f"The twine file {error.filename!r} does not exist.") from None
        except ValueError as error:
            path = os.fspath(source) if isinstance(source, (str, os.PathLike)) else ""
            named = isinstance(source, os.PathLike) or path.endswith(".json") or os.path.isfile(path)
            where = f" in file {path!r}" if named else ""
            raise exceptions.InvalidTwineJson(f"The twine{where} is not valid JSON: {error}.") from None
        if hasattr(raw, "items") and not isinstance(raw, dict):
            raw = dict(raw)
        check(_vendored_validator("twine"), raw, f"The twine (from {where})", exceptions.InvalidTwineContents)
        if raw.get("twined_version") is not None:
            logger.debug(
                "Ignoring twined_version %r: octue_beam validates every twine the same way.", raw["twined_version"]
            )
        return raw

    @staticmethod
    def _compile(schema: Any, where: str) -> Any:
        try:
            return compile_validator(schema, where)
        except jsonschema.exceptions.SchemaError as error:
            raise exceptions.InvalidTwineContents(
                f"The JSON schema in {where} is not a valid schema: {error.message}."
            ) from None

    # --- properties ---------------------------------------------------------------------------------

    @property
    def available_strands(self) -> set[str]:
        """Names of the strands this twine defines."""
        return self._available_strands

    @property
    def available_manifest_strands(self) -> set[str]:
        return self._available_strands & set(MANIFEST_STRANDS)

    @property
    def required_strands(self) -> set[str]:
        """Names of the strands that need data: every object strand without `"optional": true`."""
        return self._required_strands

    def to_primitive(self) -> dict:
        return dict(self._raw)

    def dataset_keys(self, strand: str) -> list[str]:
        """Keys of the datasets a manifest strand describes (empty when the strand is absent)."""
        return list(getattr(self, strand, {}).get("datasets", {}))

    # --- loading strand data ------------------------------------------------------------------------

    @staticmethod
    def _load_data(strand: str, source: Any, loaded: bool = False) -> Any:
        if loaded:
            return source
        if source is None:
            raise _INVALID_JSON[strand](f"Cannot load {strand}: no data given.")
        try:
            data, _ = load_json_source(source)
        except FileNotFoundError as error:
            raise _INVALID_JSON[strand](f"The {strand} file {error.filename!r} does not exist.") from None
        except ValueError as error:
            raise _INVALID_JSON[strand](f"The {strand} data is not valid JSON: {error}.") from None
        return data

    def _require(self, strand: str) -> None:
        if strand not in self._available_strands:
            raise exceptions.StrandNotFound(
                f"Cannot validate {strand}: the twine has no {_strand_key(strand)!r} strand."
            )

    # --- values strands -----------------------------------------------------------------------------

    def _validate_values(self, strand: str, source: Any, cls: Any = None, loaded: bool = False, **kwargs: Any) -> Any:
        """Validate values from `source`; with `loaded=True` the source is the data itself (strings are not parsed)."""
        self._require(strand)
        data = self._load_data(strand, source, loaded)
        compatible = serialisation.to_json_compatible(data)
        check(self._validators[strand], compatible, f"The {strand} data", _INVALID_CONTENTS[strand])
        return cls(**data) if cls else data

    def validate_configuration_values(self, source: Any, **kwargs: Any) -> Any:
        return self._validate_values("configuration_values", source, **kwargs)

    def validate_input_values(self, source: Any, **kwargs: Any) -> Any:
        return self._validate_values("input_values", source, **kwargs)

    def validate_output_values(self, source: Any, **kwargs: Any) -> Any:
        return self._validate_values("output_values", source, **kwargs)

    def validate_monitor_message(self, source: Any, **kwargs: Any) -> Any:
        return self._validate_values("monitor_message", source, **kwargs)

    # --- manifest strands ---------------------------------------------------------------------------

    def _validate_manifest(self, strand: str, source: Any, cls: Any = None, loaded: bool = False, **kwargs: Any) -> Any:
        self._require(strand)
        outbound = hasattr(source, "to_primitive")
        data = source.to_primitive() if outbound else self._load_data(strand, source, loaded)
        check(_vendored_validator("manifest"), data, f"The {strand} data", exceptions.InvalidManifestContents)
        for key, dataset_strand in getattr(self, strand)["datasets"].items():
            if key not in data["datasets"] and not dataset_strand.get("optional", False):
                raise exceptions.InvalidManifestContents(
                    f"A dataset named {key!r} is expected in the {strand} but is missing."
                )
        if cls and not outbound:
            return cls(**data)
        return data

    def validate_configuration_manifest(self, source: Any, **kwargs: Any) -> Any:
        return self._validate_manifest("configuration_manifest", source, **kwargs)

    def validate_input_manifest(self, source: Any, **kwargs: Any) -> Any:
        return self._validate_manifest("input_manifest", source, **kwargs)

    def validate_output_manifest(self, source: Any, **kwargs: Any) -> Any:
        return self._validate_manifest("output_manifest", source, **kwargs)

    def validate_file_tags(self, strand: str, manifest: Any) -> None:
        """Check every file's tags against its dataset's `file_tags_template` (datasets need `.files` with `.tags`)."""
        for (template_strand, dataset_key), validator in self._file_tag_validators.items():
            if template_strand != strand or dataset_key not in manifest.datasets:
                continue
            for datafile in manifest.datasets[dataset_key].files:
                describe = (
                    f"The tags of file {getattr(datafile, 'name', datafile)!r} in dataset {dataset_key!r} "
                    f"of the {strand}"
                )
                tags = serialisation.to_json_compatible(dict(datafile.tags))
                check(validator, tags, describe, exceptions.InvalidManifestContents)

    # --- children and credentials ------------------------------------------------------------------

    def validate_children(self, source: Any, loaded: bool = False, **kwargs: Any) -> list:
        """Check children configuration: every key in the strand has a child and every child's key is in the strand."""
        children = self._load_data("children", source, loaded)
        check(_vendored_validator("children"), children, "The children", exceptions.InvalidValuesContents)
        strand_keys = [item["key"] for item in getattr(self, "children", [])]
        child_keys = {child["key"] for child in children}
        for key in strand_keys:
            if key not in child_keys:
                raise exceptions.InvalidValuesContents(
                    f"No children found matching the key {key!r} of the 'children' strand."
                )
        for index, child in enumerate(children):
            if child["key"] not in strand_keys:
                raise exceptions.InvalidValuesContents(
                    f"The children are invalid at $[{index}].key: child with key {child['key']!r} found but no "
                    f"such key exists in the 'children' strand of the twine (keys: {strand_keys})."
                )
        return children

    def validate_credentials(self, *args: Any, dotenv_path: str | None = None, **kwargs: Any) -> list:
        """Check that every credential is in the environment, loading a `.env` file first if there is one.

        Credentials from Google Secret Manager are loaded into the environment beforehand by
        `octue_beam.twine.credentials.populate_from_secret_manager` when a project is configured.
        """
        if "credentials" not in self._available_strands:
            return []
        for path in [dotenv_path] if dotenv_path else [".env", os.path.join("twined", ".env")]:
            if os.path.isfile(path):
                load_dotenv(path, override=False)
        for index, credential in enumerate(self.credentials):
            if credential["name"] not in os.environ:
                raise exceptions.CredentialNotFound(
                    f"Credential {credential['name']!r} (credentials strand, $[{index}]) is missing from the "
                    "environment, the .env file and Google Secret Manager."
                )
        return self.credentials

    # --- all strands --------------------------------------------------------------------------------

    def validate(self, allow_extra: bool = False, cls: Any = None, **kwargs: Any) -> dict[str, Any]:
        """Validate the strands given as keyword arguments; a required strand given as None is an error.

        `cls` may be a class or a dict of classes keyed by strand name to instantiate validated data with.
        Pass `loaded=True` when the data is already parsed (then a string is a value, not JSON text or a path).
        """
        sources = {name: kwargs.pop(name) for name in list(kwargs) if name in ALL_STRANDS}
        for strand, data in sources.items():
            if not allow_extra and data is not None and strand not in self._available_strands:
                raise exceptions.StrandNotFound(
                    f"Data is provided for {strand!r} but no such strand is defined in the twine."
                )
            if strand in self._required_strands and data is None:
                raise exceptions.TwineValueException(
                    f"The {strand!r} strand is defined in the twine, but no data is provided for it."
                )
            if data is None or strand not in self._available_strands:
                continue
            klass = cls.get(strand) if isinstance(cls, dict) else cls
            sources[strand] = getattr(self, f"validate_{strand}")(data, cls=klass, **kwargs)
        return sources

    def validate_strand(self, name: str, source: Any, **kwargs: Any) -> Any:
        return self.validate(**{name: source}, **kwargs)[name]

    def prepare(self, *strands: str, cls: Any = None, **kwargs: Any) -> dict[str, Any]:
        """Empty containers for output strands: `{}`-like for values, one empty dataset per key for manifests."""
        prepared: dict[str, Any] = {}
        for strand in strands:
            if strand not in ALL_STRANDS:
                raise exceptions.UnknownStrand(f"Unknown strand {strand!r}; strands are {ALL_STRANDS}.")
            if strand not in self._available_strands:
                prepared[strand] = None
                continue
            klass = cls.get(strand) if isinstance(cls, dict) else cls
            prepared[strand] = klass(**kwargs) if klass else dict(**kwargs)
            if hasattr(prepared[strand], "prepare"):
                prepared[strand] = prepared[strand].prepare(getattr(self, strand))
        return prepared

    def __repr__(self) -> str:
        return f"<Twine strands={sorted(self._available_strands)}>"
