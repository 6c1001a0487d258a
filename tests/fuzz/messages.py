"""Malformed question messages for the fuzz tests: hypothesis strategies, a fixed set of the nastiest ones, and the
oracle saying what a service must do with each (ignore it, answer it, or only dead-letter it).

Every message is `(data, attributes)` as it arrives from Pub/Sub: bytes and string attributes. Question UUIDs come
from the strategies (never `uuid4()`), so a derandomized run sends the same messages every time.
"""

import json
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from octue_beam.messaging import events
from octue_beam.messaging.attributes import encode_attributes, question_attributes
from tests.support.paths import FIXTURES

SRUID = "octue-beam-tests/behaviours:local"
PARENT = "octue-beam-tests/fuzz-parent:local"
OTHER_SERVICE = "octue-beam-tests/someone-else:local"
SDK_VERSION = "0.69.0"
MANIFEST_ID = "8ead7669-8162-4f64-8cd5-4abe92509e17"
EVENT_LIMIT_DEPTH = 100  # octue_beam.messaging.parsing.MAX_NESTING_DEPTH, restated: the test's own oracle

# Written independently of octue_beam.messaging (the oracle must not share the code it checks).
_SRUID = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*/[a-z0-9]+(-[a-z0-9]+)*:[A-Za-z0-9_]+([-.]+[A-Za-z0-9_]+)*")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

#: Strings aimed at Pub/Sub filters, logs, shells, paths and regular expressions.
INJECTIONS = (
    f'{PARENT}" OR attributes.recipient = "{OTHER_SERVICE}',
    f'{PARENT}") OR (attributes.sender_type = "CHILD',
    f"{PARENT}\n",
    f"{PARENT}\r\nrecipient: {OTHER_SERVICE}",
    f"{PARENT}\x00",
    f" {PARENT}",
    PARENT.upper(),
    "octue-beam-tests/fuzz-parent:" + "a" * 40 + "!",  # exponential backtracking for an ambiguous tag pattern
    "octue-beam-tests/fuzz-parent:" + "v" * 129,  # a revision tag over the 128-character limit
    "a/b:" + "1." * 300 + "x",
    "../../../etc/passwd",
    "gs://bucket/../../secret",
    "$(touch /tmp/pwned)",
    "'; DROP TABLE questions; --",
    "{{7*7}}${7*7}%s%n",
    "\u202eevil\u202c/\u200bsneaky:1",
    "octue-beam-tests/fuzz-parent:local\u2028",
    "\ud800",
    "",
)

ATTRIBUTE_NAMES = (
    "uuid", "datetime", "question_uuid", "parent_question_uuid", "originator_question_uuid", "parent", "originator",
    "sender", "sender_type", "sender_sdk_version", "recipient", "retry_count", "forward_logs", "save_diagnostics",
    "cpus", "memory", "ephemeral_storage",
)


#: The behaviours service's actions a fuzzed question may trigger (never `sleep`, `hang` or `big`: hypothesis draws
#: strings from constants in the code under test, so a random question could name them).
SAFE_ACTIONS = ["echo", "crash", "log", "monitor", "invalid-output"]


def write_fuzz_service(service_dir: Path) -> Path:
    """A copy of the behaviours test service that accepts an optional input manifest (so manifests sent to it are
    really checked) and only the `SAFE_ACTIONS`."""
    shutil.copytree(FIXTURES / "behaviours", service_dir, ignore=shutil.ignore_patterns("__pycache__"))
    twine = json.loads((service_dir / "twine.json").read_text())
    twine["input_values_schema"]["properties"]["action"]["enum"] = SAFE_ACTIONS
    twine["input_manifest"] = {"optional": True, "datasets": {"data": {"optional": True, "purpose": "Any data"}}}
    (service_dir / "twine.json").write_text(json.dumps(twine))
    return service_dir


def is_sruid(value: Any) -> bool:
    if not isinstance(value, str) or not _SRUID.fullmatch(value):
        return False
    return len(value.split(":", 1)[1]) <= 128


def is_uuid(value: Any) -> bool:
    return isinstance(value, str) and _UUID.fullmatch(value) is not None


def addressed_to_service(attributes: dict[str, str]) -> bool:
    """Whether a message is for the service under test: its recipient, from a parent (or not saying)."""
    return attributes.get("recipient") == SRUID and attributes.get("sender_type", "PARENT") == "PARENT"


def says_who_asked(attributes: dict[str, str]) -> bool:
    """Whether a broken message can be answered: a UUID question and an SRUID sender (as Pub/Sub limits them)."""
    question_uuid, sender = attributes.get("question_uuid"), attributes.get("sender")
    return is_uuid(question_uuid) and is_sruid(sender) and len(sender) <= 1024


def question(
    question_uuid: str, input_values: Any = None, *, input_manifest: Any = None, **attribute_overrides: str | None
) -> tuple[bytes, dict[str, str]]:
    """A valid question to the service under test, as Octue 0.69 sends it, with attributes overridden (None drops)."""
    attributes = encode_attributes(
        question_attributes(
            sender=PARENT, recipient=SRUID, sender_sdk_version=SDK_VERSION, question_uuid=question_uuid,
            forward_logs=False,
        )
    )
    attributes.update(attribute_overrides)
    attributes = {name: value for name, value in attributes.items() if value is not None}
    event = events.question(input_values=input_values, input_manifest=input_manifest)
    return json.dumps(event).encode(), attributes


def nested(depth: int, opener: str = "[") -> str:
    """JSON text of `depth` nested arrays (or objects, with opener '{')."""
    if opener == "[":
        return "[" * depth + "]" * depth
    return '{"a": ' * depth + "0" + "}" * depth


def deep_question(question_uuid: str, depth: int, opener: str = "[") -> tuple[bytes, dict[str, str]]:
    """A question echoing a value nested `depth` levels deep (the event itself nests `depth + 2`)."""
    data, attributes = question(question_uuid, {"action": "echo", "value": None})
    text = data.decode().replace('"value": null', f'"value": {nested(depth, opener)}')
    return text.encode(), attributes


def manifest(datasets: dict) -> dict:
    """An input manifest primitive as Octue sends it."""
    return {"id": MANIFEST_ID, "name": None, "datasets": datasets}


def escaping_manifests(outside_file: str, service_dir: str) -> list[dict]:
    """Input manifests that try to make the service read outside its folders or from anywhere but the cloud."""
    relative = "../" * 12 + outside_file.lstrip("/")
    return [
        manifest({"data": outside_file}),
        manifest({"data": relative}),
        manifest({"data": f"file://{outside_file}"}),
        manifest({"data": f"{service_dir}/../outside"}),
        manifest({"data": "gs://bucket/data/../../../secret"}),
        manifest({"data": "http://attacker.example/data"}),
        manifest({"data": "https://attacker.example/a/%2e%2e/%2e%2e/secret?sig=1"}),
        manifest({"../data": "gs://bucket/data"}),
        manifest({"da/ta": "gs://bucket/data"}),
        manifest({"data": {"path": "gs://bucket/data", "files": [outside_file]}}),
        manifest({"data": {"path": None, "files": [relative]}}),
        manifest({"data": {"path": "gs://bucket/d", "files": [{"local_path": outside_file, "path": outside_file}]}}),
        manifest({"data": {"path": outside_file, "files": []}}),
    ]


# --- hypothesis strategies -----------------------------------------------------------------------------------

question_uuids = st.uuids().map(str)
json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
nasty_text = st.sampled_from(INJECTIONS) | st.text(max_size=40) | st.text(min_size=1025, max_size=1500)
odd_numbers = st.sampled_from(["", "0", "-1", "1e9", "TRUE", "None", "9" * 40, " 1", "1_000"])
attribute_values = nasty_text | st.just("x" * 100_000) | odd_numbers


@st.composite
def random_bytes(draw: Any) -> tuple[bytes, dict[str, str]]:
    _, attributes = question(draw(question_uuids))
    return draw(st.binary(max_size=300)), attributes


@st.composite
def truncated_json(draw: Any) -> tuple[bytes, dict[str, str]]:
    data, attributes = question(draw(question_uuids), draw(json_values))
    return data[: draw(st.integers(0, len(data) - 1))], attributes


@st.composite
def deep_nesting(draw: Any) -> tuple[bytes, dict[str, str]]:
    depth = draw(st.integers(EVENT_LIMIT_DEPTH - 5, EVENT_LIMIT_DEPTH) | st.integers(EVENT_LIMIT_DEPTH, 3000))
    return deep_question(draw(question_uuids), depth, draw(st.sampled_from("[{")))


@st.composite
def wrong_types(draw: Any) -> tuple[bytes, dict[str, str]]:
    """A question whose event has fields of the wrong types, unknown fields, or is not an object at all."""
    data, attributes = question(draw(question_uuids), {"action": "echo"})
    event = json.loads(data)
    field = draw(st.sampled_from(["kind", "input_values", "input_manifest", "children", "extra", "whole"]))
    value = draw(json_values)
    if field == "whole":
        event = value
    else:
        event[field] = value
    return json.dumps(event).encode(), attributes


@st.composite
def mangled_attributes(draw: Any) -> tuple[bytes, dict[str, str]]:
    """A valid event with attributes missing, replaced (huge, unicode, injection strings) or added."""
    data, attributes = question(draw(question_uuids), {"action": "echo", "value": draw(json_values)})
    for name in draw(st.sets(st.sampled_from(ATTRIBUTE_NAMES), max_size=4)):
        attributes.pop(name, None)
    replaced = draw(st.dictionaries(st.sampled_from(ATTRIBUTE_NAMES), attribute_values, max_size=4))
    extra = draw(st.dictionaries(st.text(min_size=1, max_size=30), attribute_values, max_size=3))
    return data, {**attributes, **extra, **replaced}


@st.composite
def injected_who(draw: Any) -> tuple[bytes, dict[str, str]]:
    """A question (valid or not) whose sender, parent, originator or IDs are injection strings."""
    data, attributes = question(draw(question_uuids), {"action": "echo"})
    if draw(st.booleans()):
        data = b"{not json"
    for name in draw(st.sets(st.sampled_from(["sender", "parent", "originator", "question_uuid",
                                              "originator_question_uuid", "parent_question_uuid", "retry_count"]),
                             min_size=1, max_size=3)):
        attributes[name] = draw(st.sampled_from(INJECTIONS))
    return data, attributes


@st.composite
def not_for_us(draw: Any) -> tuple[bytes, dict[str, str]]:
    """Messages the service must ignore: another (or an injected) recipient, or sent by a child."""
    data, attributes = draw(random_bytes() | wrong_types() | mangled_attributes() | injected_who())
    if draw(st.booleans()):
        attributes["recipient"] = draw(st.sampled_from((OTHER_SERVICE, *INJECTIONS, SRUID + "\n", SRUID.upper())))
    else:
        attributes["recipient"] = SRUID
        attributes["sender_type"] = draw(st.sampled_from(["CHILD", "child", "PARENT ", "SIBLING", ""]))
    return data, attributes


def path_escapes(outside_file: str, service_dir: str) -> st.SearchStrategy:
    """Valid questions whose input manifest points outside the cloud or escapes folders."""
    return st.builds(
        lambda question_uuid, manifest: question(question_uuid, {"action": "echo"}, input_manifest=manifest),
        question_uuids,
        st.sampled_from(escaping_manifests(outside_file, service_dir)),
    )


def malformed_messages(outside_file: str, service_dir: str) -> st.SearchStrategy:
    """Any of the malformed (or foreign) messages above."""
    return st.one_of(
        random_bytes(), truncated_json(), deep_nesting(), wrong_types(), mangled_attributes(), injected_who(),
        not_for_us(), path_escapes(outside_file, service_dir),
    )


def nastiest_messages(outside_file: str) -> list[tuple[str, bytes, dict[str, str]]]:
    """A small fixed set `(name, data, attributes)` for the end-to-end test over the wire (fresh question UUIDs)."""

    def fresh() -> str:
        return str(uuid.uuid4())

    bad_json, bad_json_attributes = question(fresh())
    return [
        ("random bytes", b"\x00\xff\xfe{[\x80", question(fresh())[1]),
        ("truncated JSON", bad_json[: len(bad_json) // 2], bad_json_attributes),
        ("nested 500 deep", *deep_question(fresh(), 500)),
        ("nested 100000 deep", *deep_question(fresh(), 100_000)),
        ("wrong types", b'{"kind": "question", "input_values": [], "children": "all"}', question(fresh())[1]),
        ("no attributes", json.dumps(events.question({"action": "echo"})).encode(), {}),
        ("huge attribute", *question(fresh(), {"action": "echo"}, memory="m" * 1024)),
        ("injected sender", *question(fresh(), {"action": "echo"}, sender=INJECTIONS[0])),
        ("injected sender, broken data", b"{", question(fresh(), sender=INJECTIONS[1])[1]),
        ("backtracking sender", *question(fresh(), {"action": "echo"}, sender=INJECTIONS[7])),
        ("newline sender", *question(fresh(), {"action": "echo"}, sender=INJECTIONS[2])),
        ("foreign recipient", *question(fresh(), {"action": "echo"}, recipient=OTHER_SERVICE)),
        ("child sender", *question(fresh(), {"action": "echo"}, sender_type="CHILD")),
        ("path escape", *question(fresh(), {"action": "echo"}, input_manifest=manifest({"data": outside_file}))),
        ("unicode", *question(fresh(), {"action": "echo", "value": "\u202e\u0000\U0001f600"},
                              parent="\u202eevil/x:1")),
    ]
