"""Credentials from Google Secret Manager, loaded into the environment before the credentials strand is checked."""

import logging
import os
from collections.abc import Iterable
from typing import Any

logger = logging.getLogger(__name__)


def populate_from_secret_manager(names: Iterable[str], project: str, client: Any = None) -> list[str]:
    """Set each missing env var in `names` from the latest version of the secret of that name; returns those set.

    Secrets that cannot be read are left for the credentials check to report.
    """
    missing = [name for name in names if name not in os.environ]
    if not missing:
        return []
    if client is None:
        # Lazy: only services with credentials in a configured project use Secret Manager (~0.25 s to import).
        from google.cloud import secretmanager

        client = secretmanager.SecretManagerServiceClient()
    loaded = []
    for name in missing:
        try:
            response = client.access_secret_version(name=f"projects/{project}/secrets/{name}/versions/latest")
        except Exception as error:  # noqa: BLE001 - reported as CredentialNotFound afterwards
            logger.warning("Could not read secret %r from Secret Manager in project %r: %s", name, project, error)
            continue
        os.environ[name] = response.payload.data.decode("utf-8")
        loaded.append(name)
    return loaded
