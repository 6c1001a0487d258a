"""Service registries: resolving a service ID without a revision tag, and checking that a revision exists.

A registry is `{"name": ..., "endpoint": ...}` (octue.yaml `service_registries`, in priority order), speaking
the Octue registry protocol:

- `GET <endpoint>/<namespace>/<name>` -> 200 `{"revision_tag": "..."}`: the default revision of the service;
- `GET <endpoint>/<namespace>/<name>?revision_tag=<tag>` -> 200 if that revision is registered, 404 if not.

An identity token for the endpoint is sent to HTTPS registries when Google credentials can make one.
"""

import logging
from typing import Any

import google.auth.transport.requests
import google.oauth2.id_token
import requests

from octue_beam.exceptions import InvalidServiceID, ServiceNotFound
from octue_beam.messaging.sruid import split_service_id

logger = logging.getLogger(__name__)

TIMEOUT = 10


def _headers(endpoint: str) -> dict[str, str]:
    """An identity token for HTTPS registries (Cloud Functions need one); plain-HTTP (local) registries get none."""
    if not endpoint.startswith("https://"):
        return {}
    try:
        token = google.oauth2.id_token.fetch_id_token(google.auth.transport.requests.Request(), endpoint)
        return {"Authorization": f"Bearer {token}"}
    except Exception:  # noqa: BLE001 - no Google credentials here: registries that need none still work
        return {}


def _get(registry: dict, path: str, params: dict | None = None) -> requests.Response | None:
    url = f"{registry['endpoint'].rstrip('/')}/{path}"
    try:
        return requests.get(url, params=params, headers=_headers(registry["endpoint"]), timeout=TIMEOUT)
    except requests.RequestException as error:
        logger.warning("Service registry %r (%s) could not be reached: %s", registry.get("name"), url, error)
        return None


def resolve_service_id(service_id: str, registries: list[dict] | None) -> str:
    """The SRUID to ask: `service_id` itself when it has a tag (checked against the registries, if any), else
    the default revision from the first registry that knows the service.

    Raises InvalidServiceID when there is no tag and no registry, ServiceNotFound when no registry knows it.
    """
    namespace, name, revision_tag = split_service_id(service_id)
    if revision_tag is not None:
        if registries:
            _raise_if_revision_not_registered(namespace, name, revision_tag, registries)
        return service_id
    if not registries:
        raise InvalidServiceID(
            f"{service_id!r} has no revision tag and no service registries are configured to find its default "
            "revision: ask 'namespace/name:revision_tag', or add service_registries to octue.yaml."
        )
    for registry in registries:
        response = _get(registry, f"{namespace}/{name}")
        if response is not None and response.status_code == 200:
            tag = _revision_tag(response)
            if tag:
                sruid = f"{namespace}/{name}:{tag}"
                logger.info("Registry %r resolved %r to %r.", registry.get("name"), service_id, sruid)
                return sruid
    names = [registry.get("name", registry["endpoint"]) for registry in registries]
    raise ServiceNotFound(f"No default revision of {service_id!r} was found in the service registries {names}.")


def _revision_tag(response: requests.Response) -> Any:
    try:
        return response.json().get("revision_tag")
    except (ValueError, AttributeError):
        return None


def _raise_if_revision_not_registered(namespace: str, name: str, revision_tag: str, registries: list[dict]) -> None:
    for registry in registries:
        response = _get(registry, f"{namespace}/{name}", params={"revision_tag": revision_tag})
        if response is not None and response.status_code == 200:
            return
    names = [registry.get("name", registry["endpoint"]) for registry in registries]
    raise ServiceNotFound(
        f"The revision {namespace}/{name}:{revision_tag} is not registered in the service registries {names}."
    )
