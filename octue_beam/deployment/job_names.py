"""Dataflow job names derived from SRUIDs: one job per service revision, named the same on every deployment.

Dataflow requires a job name to match `[a-z]([-a-z0-9]{0,1022}[a-z0-9])?` (the `name` field of the v1b3 `Job` and
the `jobName` of a launch: lower-case letters, digits and hyphens, starting with a letter, ending with a letter or a
digit, at most 1024 characters), and at most one active job of a name per project and region: `--update` finds the
running revision by its name.

`my-org/my-service:1-2-0` -> `my-org--my-service--1-2-0`. Namespaces and names are lower-case kebab case without
`--`, so the double hyphens keep the three parts apart. When the SRUID has to be changed to fit (upper case, dots or
underscores in the revision tag, a namespace starting with a digit, a name over the length limit), the name ends in
`-` and 8 hex digits of the SHA-256 of the exact SRUID, so two revisions never share a job name by their sanitised
forms colliding (`1.2.0` and `1-2-0`, `RC1` and `rc1`).
"""

import hashlib
import re

from octue_beam.messaging.sruid import validate_sruid

MAX_JOB_NAME_LENGTH = 1024
JOB_NAME_PATTERN = re.compile(r"[a-z]([-a-z0-9]{0,1022}[a-z0-9])?")
_SEPARATOR = "--"
_HASH_LENGTH = 8
_NOT_ALLOWED = re.compile(r"[^a-z0-9]+")


def job_name_for(sruid: str) -> str:
    """The Dataflow job name of the service revision `sruid` (`namespace/name:revision_tag`): stable, valid, unique."""
    validate_sruid(sruid)
    namespace_and_name, revision_tag = sruid.split(":", 1)
    namespace, name = namespace_and_name.split("/", 1)
    tag = _NOT_ALLOWED.sub("-", revision_tag.lower()).strip("-")
    readable = _SEPARATOR.join((namespace, name, tag))
    if not readable[0].isalpha():
        readable = "s-" + readable
    if readable == _SEPARATOR.join((namespace, name, revision_tag)) and len(readable) <= MAX_JOB_NAME_LENGTH:
        return readable
    digest = hashlib.sha256(sruid.encode()).hexdigest()[:_HASH_LENGTH]
    readable = readable[: MAX_JOB_NAME_LENGTH - _HASH_LENGTH - 1].rstrip("-")
    return f"{readable}-{digest}"


def is_valid_job_name(name: str) -> bool:
    """True if Dataflow accepts `name` as a job name."""
    return isinstance(name, str) and JOB_NAME_PATTERN.fullmatch(name) is not None
