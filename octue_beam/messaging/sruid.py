"""Service revision unique identifiers (SRUIDs): `<namespace>/<name>:<revision_tag>`.

A *service ID* may omit the revision tag (`namespace/name`); a registry then resolves it.
"""

import re
import uuid

from octue_beam.exceptions import InvalidServiceID

NAME_PATTERN = r"[a-z0-9]+(?:-[a-z0-9]+)*"
# Separators are one or more of `-`/`.` between word runs: the same tags as `(?:[-.]*...)*`, but with no nested
# ambiguity, so matching stays linear (the ambiguous form backtracks exponentially on e.g. "aaa...a!").
REVISION_TAG_PATTERN = r"[A-Za-z0-9_]+(?:[-.]+[A-Za-z0-9_]+)*"
MAX_REVISION_TAG_LENGTH = 128
RESERVED_NAMESPACES = ("example",)

_SERVICE_ID = re.compile(
    rf"^(?P<namespace>{NAME_PATTERN})/(?P<name>{NAME_PATTERN})(?::(?P<revision_tag>{REVISION_TAG_PATTERN}))?$"
)
_NAME = re.compile(rf"^{NAME_PATTERN}$")
_REVISION_TAG = re.compile(rf"^{REVISION_TAG_PATTERN}$")


def split_service_id(service_id: str, require_revision_tag: bool = False) -> tuple[str, str, str | None]:
    """`(namespace, name, revision_tag)` of a service ID; the tag is None when absent (unless required)."""
    match = _SERVICE_ID.fullmatch(service_id or "") if isinstance(service_id, str) else None
    if not match:
        raise InvalidServiceID(
            f"{_shown(service_id)} is not a valid service ID: expected 'namespace/name' or "
            f"'namespace/name:revision_tag' where namespace and name are lower-case kebab case ({NAME_PATTERN}) and "
            "the tag is Docker-tag-like."
        )
    namespace, name, revision_tag = match.group("namespace", "name", "revision_tag")
    if revision_tag is not None and len(revision_tag) > MAX_REVISION_TAG_LENGTH:
        raise InvalidServiceID(
            f"The revision tag of {service_id!r} is longer than {MAX_REVISION_TAG_LENGTH} characters."
        )
    if require_revision_tag and revision_tag is None:
        raise InvalidServiceID(f"{service_id!r} has no revision tag; an SRUID must be 'namespace/name:revision_tag'.")
    return namespace, name, revision_tag


def _shown(value: object, limit: int = 200) -> str:
    """`repr(value)`, clipped: an invalid ID may come from a message and be megabytes long."""
    shown = repr(value)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def validate_sruid(sruid: str) -> str:
    """Return `sruid` if it is a full SRUID (with revision tag), else raise InvalidServiceID."""
    split_service_id(sruid, require_revision_tag=True)
    return sruid


def validate_name(value: str, what: str) -> str:
    """Check a namespace or name part."""
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise InvalidServiceID(f"The service {what} {value!r} must be lower-case kebab case ({NAME_PATTERN}).")
    return value


def validate_revision_tag(value: str) -> str:
    if not isinstance(value, str) or not _REVISION_TAG.fullmatch(value) or len(value) > MAX_REVISION_TAG_LENGTH:
        raise InvalidServiceID(
            f"The revision tag {value!r} must match {REVISION_TAG_PATTERN} and be at most {MAX_REVISION_TAG_LENGTH} "
            "characters."
        )
    return value


def create_sruid(namespace: str, name: str, revision_tag: str) -> str:
    """Build and check an SRUID from its parts."""
    validate_name(namespace, "namespace")
    validate_name(name, "name")
    validate_revision_tag(revision_tag)
    return f"{namespace}/{name}:{revision_tag}"


def to_pub_sub_form(service_id: str) -> str:
    """Pub/Sub resource form: `/` and `:` become `.`, dots in the revision tag become `-`.

    `my-org/my-svc:1.2.0` -> `my-org.my-svc.1-2-0`.
    """
    namespace, name, revision_tag = split_service_id(service_id)
    if revision_tag is None:
        return f"{namespace}.{name}"
    return f"{namespace}.{name}.{revision_tag.replace('.', '-')}"


def random_parent_sruid() -> str:
    """An SRUID for an asking process that is not a service itself."""
    return f"local/local-{uuid.uuid4().hex[:8]}:local"
