"""The one Cloud Storage client everything uses, and the few operations octue_beam needs.

`get_storage_client()` returns a `google.cloud.storage.Client` from the process's `StorageClients` (one per
project and emulator address; `default_clients()` / `use_clients()` reach and replace it, e.g. in tests). When
`STORAGE_EMULATOR_HOST` is set (the local emulator), it uses anonymous credentials and a placeholder project, so
nothing needs real credentials locally. Signed URLs against the emulator are signed with a throwaway RSA key made
in-process (the emulator does not check signatures).

The Google libraries (`google.cloud.storage`, `google.api_core.exceptions`, `google.auth`, `cryptography`) are
imported inside the functions that use them, not here: the data resources import this module, and runs that read only
local data (`ask-local`, a local service) must not pay ~0.35 s for them. They load when Cloud Storage is first used.
"""

import datetime
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

from octue_beam import serialisation
from octue_beam.environment import LOCAL_PROJECT, configured_project
from octue_beam.exceptions import CloudStorageError
from octue_beam.storage.path import generate_gs_path, is_cloud_uri, split_bucket_name_from_cloud_path

logger = logging.getLogger(__name__)

EMULATOR_HOST_VARIABLE = "STORAGE_EMULATOR_HOST"



def emulator_host() -> str | None:
    """The storage emulator's address if one is configured (e.g. `http://localhost:9090`), else None."""
    host = os.environ.get(EMULATOR_HOST_VARIABLE)
    if not host:
        return None
    return host if host.startswith("http") else f"http://{host}"


class StorageClients:
    """The Cloud Storage clients of a process, one per (project, emulator address), and the emulator's signer."""

    def __init__(self) -> None:
        self._clients: dict[tuple[str | None, str | None], Any] = {}
        self._signer: Any = None
        self._lock = threading.Lock()

    def get(self, project: str | None = None) -> Any:
        """The client for `project` (default: the configured one) on the current emulator address, or Cloud Storage."""
        host = emulator_host()
        key = (configured_project() if project is None else project, host)
        client = self._clients.get(key)
        if client is not None:
            return client
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self._clients[key] = _make_client(*key)
        return client

    def emulator_signer(self) -> Any:
        """Service-account credentials with a throwaway RSA key, made once (signing URLs on the emulator only)."""
        with self._lock:
            if self._signer is None:
                self._signer = _emulator_signing_credentials()
            return self._signer

    def clear(self) -> None:
        """Forget the clients (e.g. after the emulator address changed); they are made again when next used."""
        with self._lock:
            self._clients.clear()


_default = StorageClients()


def default_clients() -> StorageClients:
    """The process's shared Cloud Storage clients (used by every function of this module)."""
    return _default


def use_clients(clients: StorageClients) -> StorageClients:
    """Make `clients` the process's shared clients; return the previous ones (e.g. to restore them in a test)."""
    global _default
    previous, _default = _default, clients
    return previous


def get_storage_client(project: str | None = None) -> Any:
    """The process's `google.cloud.storage.Client` for `project` (one per project and emulator address)."""
    return _default.get(project)


def _make_client(project: str | None, host: str | None) -> Any:
    # Lazy (see the module docstring): the first Cloud Storage use loads the Google client.
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    if host:
        return _with_larger_pool(storage.Client(project=project or LOCAL_PROJECT, credentials=AnonymousCredentials()))
    try:
        return _with_larger_pool(storage.Client(project=project))
    except Exception as error:  # google.auth.exceptions.DefaultCredentialsError, OSError, ...
        raise CloudStorageError(
            f"Could not create a Cloud Storage client ({type(error).__name__}: {error}). Set up Application Default "
            f"Credentials (`gcloud auth application-default login`) or set {EMULATOR_HOST_VARIABLE} to use the local "
            "emulator."
        ) from error


def _with_larger_pool(client: Any) -> Any:
    """Let as many connections as transfer threads stay open (requests keeps 10 per host by default)."""
    import requests.adapters  # lazy like google.cloud.storage, which uses it (see the module docstring)

    try:
        adapter = requests.adapters.HTTPAdapter(pool_connections=32, pool_maxsize=32)
        client._http.mount("https://", adapter)
        client._http.mount("http://", adapter)
    except Exception:  # an optimisation only
        logger.debug("Could not enlarge the Cloud Storage connection pool.", exc_info=True)
    return client


def reset_clients() -> None:
    """Forget cached clients (e.g. after the emulator address changed)."""
    _default.clear()


def _blob(cloud_path: str) -> Any:
    bucket_name, name = split_bucket_name_from_cloud_path(cloud_path)
    if not name:
        raise CloudStorageError(f"{cloud_path!r} names a bucket, not an object.")
    return get_storage_client().bucket(bucket_name).blob(name)


def _fail(action: str, cloud_path: str, error: Exception) -> CloudStorageError:
    return CloudStorageError(f"Could not {action} {cloud_path!r}: {type(error).__name__}: {error}")


# --- metadata --------------------------------------------------------------------------------------


def encode_custom_metadata(metadata: dict) -> dict[str, str]:
    """Custom metadata values as JSON strings (sets/datetimes tagged), as Octue stores them."""
    return {key: serialisation.dumps(value) for key, value in metadata.items()}


def decode_custom_metadata(metadata: dict | None) -> dict:
    """Custom metadata with JSON values decoded (non-JSON values kept as strings)."""
    decoded = {}
    for key, value in (metadata or {}).items():
        try:
            decoded[key] = serialisation.loads(value) if isinstance(value, str) else value
        except ValueError:
            decoded[key] = value
    return decoded


def blob_info(blob: Any) -> dict:
    """What octue_beam keeps about an object: decoded custom metadata, crc32c, size and times."""
    return {
        "cloud_path": generate_gs_path(blob.bucket.name, blob.name),
        "custom_metadata": decode_custom_metadata(blob.metadata),
        "crc32c": blob.crc32c,
        "size": blob.size,
        "updated": blob.updated,
        "time_created": blob.time_created,
    }


def get_metadata(cloud_path: str) -> dict | None:
    """`blob_info` of the object at `cloud_path`, or None if it (or its bucket) does not exist."""
    from google.api_core.exceptions import NotFound  # lazy: see the module docstring

    bucket_name, name = split_bucket_name_from_cloud_path(cloud_path)
    try:
        blob = get_storage_client().bucket(bucket_name).get_blob(name)
    except NotFound:
        return None
    except Exception as error:
        raise _fail("read the metadata of", cloud_path, error) from error
    return None if blob is None else blob_info(blob)


def overwrite_custom_metadata(cloud_path: str, metadata: dict) -> None:
    """Replace the object's custom metadata (values JSON-encoded)."""
    blob = _blob(cloud_path)
    blob.metadata = encode_custom_metadata(metadata)
    try:
        blob.patch()
    except Exception as error:
        raise _fail("update the metadata of", cloud_path, error) from error


# --- transfers -------------------------------------------------------------------------------------


def upload_file(local_path: str, cloud_path: str, metadata: dict | None = None) -> dict:
    """Upload a local file (with custom metadata in the same request); return the new object's `blob_info`."""
    blob = _blob(cloud_path)
    if metadata:
        blob.metadata = encode_custom_metadata(metadata)
    try:
        blob.upload_from_filename(local_path, checksum="crc32c")
    except Exception as error:
        raise _fail(f"upload {local_path!r} to", cloud_path, error) from error
    return blob_info(blob)


def upload_bytes(
    data: bytes | str, cloud_path: str, metadata: dict | None = None, content_type: str | None = None
) -> dict:
    """Upload bytes or text as an object; return its `blob_info`."""
    blob = _blob(cloud_path)
    if metadata:
        blob.metadata = encode_custom_metadata(metadata)
    try:
        blob.upload_from_string(data, content_type=content_type or "application/octet-stream", checksum="crc32c")
    except Exception as error:
        raise _fail("upload to", cloud_path, error) from error
    return blob_info(blob)


def download_to_file(cloud_path: str, local_path: str) -> None:
    """Download an object to a local file (creating its folder), raising FileNotFoundError if it does not exist."""
    from google.api_core.exceptions import NotFound  # lazy: see the module docstring

    os.makedirs(os.path.dirname(os.path.abspath(local_path)), exist_ok=True)
    try:
        _blob(cloud_path).download_to_filename(local_path)
    except NotFound:
        _remove_quietly(local_path)
        raise FileNotFoundError(f"No object exists at {cloud_path!r}.") from None
    except Exception as error:
        _remove_quietly(local_path)
        raise _fail("download", cloud_path, error) from error


def download_bytes(cloud_path: str) -> bytes:
    """An object's bytes, raising FileNotFoundError if it does not exist."""
    from google.api_core.exceptions import NotFound  # lazy: see the module docstring

    try:
        return _blob(cloud_path).download_as_bytes()
    except NotFound:
        raise FileNotFoundError(f"No object exists at {cloud_path!r}.") from None
    except Exception as error:
        raise _fail("download", cloud_path, error) from error


def download_json(cloud_path: str) -> Any:
    """An object's JSON content (tagged sets/datetimes decoded)."""
    return serialisation.loads(download_bytes(cloud_path))


def exists(cloud_path: str) -> bool:
    """True if an object exists at `cloud_path`."""
    return get_metadata(cloud_path) is not None


def copy(source_cloud_path: str, destination_cloud_path: str) -> dict:
    """Server-side copy of an object (with its metadata); return the new object's `blob_info`."""
    client = get_storage_client()
    source_bucket, source_name = split_bucket_name_from_cloud_path(source_cloud_path)
    destination_bucket, destination_name = split_bucket_name_from_cloud_path(destination_cloud_path)
    bucket = client.bucket(source_bucket)
    try:
        new_blob = bucket.copy_blob(bucket.blob(source_name), client.bucket(destination_bucket), destination_name)
    except Exception as error:
        raise _fail(f"copy {source_cloud_path!r} to", destination_cloud_path, error) from error
    return blob_info(new_blob)


def delete(cloud_path: str) -> None:
    """Delete an object (no error if it is already gone)."""
    from google.api_core.exceptions import NotFound  # lazy: see the module docstring

    try:
        _blob(cloud_path).delete()
    except NotFound:
        pass


def list_objects(
    cloud_path: str, recursive: bool = True, filter: Callable[[str], bool] | None = None
) -> Iterator[dict]:
    """`blob_info` of each object under the folder `cloud_path` (one paginated listing, no per-object calls)."""
    bucket_name, prefix = split_bucket_name_from_cloud_path(cloud_path)
    prefix = prefix.rstrip("/") + "/" if prefix else ""
    client = get_storage_client()
    try:
        blobs = client.list_blobs(bucket_name, prefix=prefix, delimiter=None if recursive else "/")
        for blob in blobs:
            if blob.name.endswith("/"):
                continue  # folder placeholder objects
            if filter is not None and not filter(blob.name[len(prefix) :]):
                continue
            yield blob_info(blob)
    except Exception as error:
        if isinstance(error, CloudStorageError):
            raise
        raise _fail("list the objects under", cloud_path, error) from error


def create_bucket(bucket_name: str, exist_ok: bool = True, location: str | None = None) -> None:
    """Create a bucket (used for the emulator and tests)."""
    from google.api_core.exceptions import Conflict  # lazy: see the module docstring

    try:
        get_storage_client().create_bucket(bucket_name, location=location)
    except Conflict:
        if not exist_ok:
            raise


def _remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


# --- signed URLs -----------------------------------------------------------------------------------


def generate_signed_url(
    cloud_path: str,
    expiration: datetime.timedelta | datetime.datetime = datetime.timedelta(days=7),
    method: str = "GET",
) -> str:
    """A v4 signed URL for the object at `cloud_path` (readable by anyone who has it until it expires).

    Against the emulator the URL points at the emulator and is signed with an in-process throwaway key. In Google
    Cloud, service-account key credentials sign locally; other credentials (Compute Engine, Cloud Run, Dataflow
    workers) sign through the IAM signBlob API with the credentials' service account.
    """
    if not is_cloud_uri(cloud_path):
        raise CloudStorageError(f"Only gs:// objects can have signed URLs; got {cloud_path!r}.")
    blob = _blob(cloud_path)
    host = emulator_host()
    try:
        if host:
            return blob.generate_signed_url(
                version="v4", expiration=expiration, method=method, credentials=_default.emulator_signer(),
                api_access_endpoint=host,
            )
        credentials = get_storage_client()._credentials
        if hasattr(credentials, "sign_bytes") and getattr(credentials, "signer_email", None):
            return blob.generate_signed_url(version="v4", expiration=expiration, method=method, credentials=credentials)
        import google.auth.transport.requests  # lazy: only signing through IAM needs it

        if not credentials.valid:
            credentials.refresh(google.auth.transport.requests.Request())
        return blob.generate_signed_url(
            version="v4",
            expiration=expiration,
            method=method,
            service_account_email=getattr(credentials, "service_account_email", None),
            access_token=credentials.token,
        )
    except CloudStorageError:
        raise
    except Exception as error:
        raise _fail("generate a signed URL for", cloud_path, error) from error


def _emulator_signing_credentials() -> Any:
    # Lazy: only signing against the emulator needs them.
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from google.oauth2 import service_account

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    info = {
        "type": "service_account",
        "project_id": LOCAL_PROJECT,
        "private_key_id": "emulator",
        "private_key": pem,
        "client_email": f"emulator@{LOCAL_PROJECT}.iam.gserviceaccount.com",
        "client_id": "0",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    return service_account.Credentials.from_service_account_info(info)


def loads_metadata_json(text: str | bytes) -> Any:
    """Parse a JSON metadata document (tagged sets/datetimes decoded)."""
    try:
        return serialisation.loads(text)
    except json.JSONDecodeError as error:
        raise CloudStorageError(f"Invalid JSON metadata: {error}") from error
