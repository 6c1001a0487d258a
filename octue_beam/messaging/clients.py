"""Google Pub/Sub clients for the real service or for an emulator given by its `host:port`.

Google's client libraries point themselves at the emulator named by `PUBSUB_EMULATOR_HOST` when they are built.
Here a client is built for an explicit `emulator_host` instead (an insecure gRPC channel to it, as the library does
for that variable), so nothing rewrites `os.environ` and a client of one emulator stays one when the variable
changes (tests switch emulators; listeners are closed after their emulator's variable was restored).

`emulator_host` everywhere: None means "as the environment says now" (`PUBSUB_EMULATOR_HOST`), "" the real Pub/Sub,
"host:port" that emulator.
"""

import threading
from typing import Any, TypeVar

import grpc
from google.api_core import exceptions as api_exceptions
from google.api_core import retry as api_retry
from google.cloud import pubsub_v1

from octue_beam.environment import pubsub_emulator_host

Client = TypeVar("Client")

#: The options of a channel to the emulator: those Google's Pub/Sub transports give their own channels (no size limit
#: on messages either way: gRPC's default would refuse to receive messages over 4 MiB, well under Pub/Sub's 10 MB),
#: but without their keepalive pings every 30 s. The emulator (a grpc-java server) permits a ping every 5 minutes at
#: most: after two early ones it closes the connection (GOAWAY "too_many_pings"), and the messages a streaming pull
#: was receiving then stay leased, unseen, until their acknowledgement deadline (10 minutes on an answer
#: subscription): a parent waiting on a connection older than a minute or so could miss its answer. The emulator is
#: on this machine, where a dead peer resets the connection: no keepalive is needed to notice.
CHANNEL_OPTIONS = (
    ("grpc.max_send_message_length", -1),
    ("grpc.max_receive_message_length", -1),
    ("grpc.max_metadata_size", 4 * 1024 * 1024),
)


#: Errors after which the same call may well succeed (a slow or restarting Pub/Sub or emulator): retried with backoff.
#: Anything else (NotFound, InvalidArgument, PermissionDenied, ResourceExhausted for a message over gRPC's limit...)
#: is definitive for that call.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    api_exceptions.DeadlineExceeded,
    api_exceptions.ServiceUnavailable,
    api_exceptions.Aborted,
    api_exceptions.InternalServerError,
    api_exceptions.Unknown,
)

#: How long one admin request (topics, subscriptions) may take, and how long its retries may go on.
ADMIN_REQUEST_TIMEOUT = 30.0
ADMIN_RETRY_SECONDS = 120.0


def is_transient(error: BaseException) -> bool:
    """Whether `error` is one of the `TRANSIENT_ERRORS` (worth retrying the same call)."""
    return isinstance(error, TRANSIENT_ERRORS)


def admin_retry(seconds: float = ADMIN_RETRY_SECONDS) -> api_retry.Retry:
    """The retry policy of admin calls: `TRANSIENT_ERRORS` retried with exponential backoff (0.2 s doubling up to
    10 s) for at most `seconds`. Google's defaults retry only UNAVAILABLE (not DEADLINE_EXCEEDED) and for 600 s."""
    predicate = api_retry.if_exception_type(*TRANSIENT_ERRORS)
    return api_retry.Retry(predicate=predicate, initial=0.2, maximum=10.0, multiplier=2.0, timeout=seconds)


def resolve_emulator_host(emulator_host: str | None = None) -> str:
    """`emulator_host` if given, else the environment's `PUBSUB_EMULATOR_HOST` ("" for the real Pub/Sub)."""
    return pubsub_emulator_host() if emulator_host is None else emulator_host


def new_client(client_class: type[Client], emulator_host: str | None = None, **options: Any) -> Client:
    """A new client of `client_class` (`pubsub_v1.PublisherClient`, `pubsub_v1.SubscriberClient` or a gapic client of
    `google.pubsub_v1`) for `emulator_host`, built with `options` (e.g. `batch_settings`)."""
    host = resolve_emulator_host(emulator_host)
    transport_class = client_class.get_transport_class("grpc")
    if host:
        # What the library does for PUBSUB_EMULATOR_HOST: an insecure channel to the emulator, no credentials.
        channel = grpc.insecure_channel(target=host, options=CHANNEL_OPTIONS)
        options["transport"] = transport_class(channel=channel, host=host)
    elif pubsub_emulator_host():
        # The library would follow PUBSUB_EMULATOR_HOST: give it the real service's transport instead.
        options["transport"] = transport_class()
    return client_class(**options)


class PubSubClients:
    """Shared admin clients (topics, subscriptions, pulls): one `PublisherClient` and one `SubscriberClient` per
    emulator host, built on first use. Thread-safe.

    A process uses `default_clients()`; tests may give code their own instance, or swap the default with
    `use_clients`.
    """

    def __init__(self) -> None:
        self._clients: dict[tuple[type, str], Any] = {}
        self._lock = threading.Lock()

    def publisher(self, emulator_host: str | None = None) -> pubsub_v1.PublisherClient:
        """The shared PublisherClient of `emulator_host` (see the module docstring)."""
        return self._get(pubsub_v1.PublisherClient, emulator_host)

    def subscriber(self, emulator_host: str | None = None) -> pubsub_v1.SubscriberClient:
        """The shared SubscriberClient of `emulator_host` (see the module docstring)."""
        return self._get(pubsub_v1.SubscriberClient, emulator_host)

    def _get(self, client_class: type[Client], emulator_host: str | None) -> Client:
        key = (client_class, resolve_emulator_host(emulator_host))
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self._clients[key] = new_client(client_class, key[1])
            return client

    def close(self) -> None:
        """Close every client built so far (they are built again if used afterwards)."""
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            try:
                if isinstance(client, pubsub_v1.SubscriberClient):
                    client.close()
                else:
                    client.transport.close()
            except Exception:  # noqa: BLE001 - closing is best effort
                pass


_default = PubSubClients()


def default_clients() -> PubSubClients:
    """The process's shared clients (used by `octue_beam.messaging.pubsub`'s topic and subscription functions)."""
    return _default


def use_clients(clients: PubSubClients) -> PubSubClients:
    """Make `clients` the process's shared clients; return the previous ones (e.g. to restore them in a test)."""
    global _default
    previous, _default = _default, clients
    return previous
