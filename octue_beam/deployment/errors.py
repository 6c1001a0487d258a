"""Errors of a deployment, and Google API errors turned into one line naming the call that failed and why.

A `google.api_core` error says little about which of a deployment's calls failed (its REST message starts with the
request's method and URL); `google_call("Cloud Run create_service", name)` wraps one call so that its failure is a
`DeploymentError` like "Cloud Run create_service (projects/p/locations/r/services/s) failed: 403 Forbidden
(IAM_PERMISSION_DENIED): Permission 'run.services.create' denied on ...", which the `deploy` commands print as is.
"""

import contextlib
import re
from collections.abc import Iterator

from google.api_core import exceptions as api_exceptions
from google.auth.exceptions import GoogleAuthError
from requests.exceptions import RequestException

from octue_beam.exceptions import OctueBeamError

# The REST transport's messages start with the request: "POST https://run.googleapis.com/v2/...?...: <message>".
_REQUEST_PREFIX = re.compile(r"^(?:GET|POST|PATCH|PUT|DELETE) \S+: ")


class DeploymentError(OctueBeamError):
    """A deployment step failed: a Google API refused a call, or what exists in the cloud conflicts with the
    request (the message says which call or resource, and why)."""


def describe_api_error(error: api_exceptions.GoogleAPICallError) -> str:
    """`403 Forbidden (IAM_PERMISSION_DENIED): <Google's message>`: the status, the reason when Google gives one, and
    the message without the request line the REST transport puts in front of it."""
    status = f"{error.code} {type(error).__name__}" if error.code else type(error).__name__
    reason = f" ({error.reason})" if getattr(error, "reason", None) else ""
    message = " ".join(_REQUEST_PREFIX.sub("", str(error.message or "")).split()) or "no message"
    return f"{status}{reason}: {message}"


@contextlib.contextmanager
def google_call(call: str, resource: str) -> Iterator[None]:
    """Turn a Google API error raised inside into a `DeploymentError` naming `call` (e.g. "Cloud Run
    create_service") and the `resource` it was about; likewise missing credentials and unreachable endpoints."""
    try:
        yield
    except api_exceptions.GoogleAPICallError as error:
        raise DeploymentError(f"{call} ({resource}) failed: {describe_api_error(error)}") from error
    except (GoogleAuthError, RequestException) as error:
        message = " ".join(str(error).split())
        raise DeploymentError(f"{call} ({resource}) failed: {type(error).__name__}: {message}") from error
