"""The WSGI application of `python -m octue_beam serve`: `PushApp`, a few lines of routing around a `PushHandler`.

    POST /             a Pub/Sub push envelope: answered by the handler (2xx once the question is answered or
                       definitively rejected; 503 to have Pub/Sub push it again), 400 when the body is not an envelope
    GET|HEAD / /health 200 and the SRUID served (Cloud Run startup and liveness probes)

Every response is `text/plain`: one line saying what happened (Pub/Sub only reads the status).
"""

import logging
from collections.abc import Callable, Iterable
from typing import Any

from octue_beam.push.envelopes import MAX_ENVELOPE_BYTES, InvalidEnvelope, parse_envelope
from octue_beam.push.handling import Outcome, PushHandler

logger = logging.getLogger(__name__)

HEALTH_PATHS = ("/", "/health")

StartResponse = Callable[..., Any]

_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    411: "Length Required",
    413: "Content Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class PushApp:
    """A WSGI callable answering Pub/Sub push requests with `handler` (one instance per process)."""

    def __init__(self, handler: PushHandler, *, max_body_bytes: int = MAX_ENVELOPE_BYTES) -> None:
        self.handler = handler
        self.max_body_bytes = max_body_bytes

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        path = environ.get("PATH_INFO") or "/"
        if method in ("GET", "HEAD") and path in HEALTH_PATHS:
            return _respond(start_response, self.health(), head=method == "HEAD")
        if path != "/":
            return _respond(start_response, Outcome(404, f"No such path {path!r}: Pub/Sub pushes to POST /."))
        if method != "POST":
            outcome = Outcome(405, f"{method} is not allowed on /: Pub/Sub pushes with POST.")
            return _respond(start_response, outcome, [("Allow", "GET, HEAD, POST")])
        try:
            outcome = self.post(environ)
        except Exception as error:  # one line to Pub/Sub (which pushes again), the traceback to the log
            logger.exception("Could not handle a push request.")
            outcome = Outcome(500, f"The push request failed: {type(error).__name__}: {error}")
        return _respond(start_response, outcome)

    def post(self, environ: dict[str, Any]) -> Outcome:
        """The outcome of one push request: read its body, parse the envelope, hand the message to the handler."""
        body = self._read_body(environ)
        if isinstance(body, Outcome):
            return body
        try:
            message = parse_envelope(body)
        except InvalidEnvelope as error:
            logger.warning("Refused a push request: %s", error)
            return Outcome(400, str(error))
        return self.handler.handle(message)

    def health(self) -> Outcome:
        """200 with the SRUID served (and the reason every question gets an exception, if the service did not load)."""
        load_error = self.handler.answerer.load_error
        if load_error is not None:
            return Outcome(200, f"{self.handler.sruid} (every question is answered with the error that stopped it "
                                f"loading: {type(load_error).__name__}: {load_error})")
        return Outcome(200, self.handler.sruid)

    def _read_body(self, environ: dict[str, Any]) -> "bytes | Outcome":
        length_header = environ.get("CONTENT_LENGTH") or ""
        stream = environ["wsgi.input"]
        if length_header:
            try:
                length = int(length_header)
            except ValueError:
                return Outcome(400, f"Content-Length {length_header!r} is not a number.")
            if length > self.max_body_bytes:
                return Outcome(413, f"The body ({length} bytes) is over {self.max_body_bytes} bytes: not a push "
                                    "envelope of a Pub/Sub message.")
            return stream.read(length)
        body = stream.read(self.max_body_bytes + 1)  # chunked: the server gives the body without a length
        if len(body) > self.max_body_bytes:
            return Outcome(413, f"The body is over {self.max_body_bytes} bytes: not a push envelope of a Pub/Sub "
                                "message.")
        return body


def _respond(
    start_response: StartResponse, outcome: Outcome, headers: list[tuple[str, str]] | None = None, *, head: bool = False
) -> list[bytes]:
    body = (outcome.reason.replace("\n", " ") + "\n").encode()
    status = f"{outcome.status} {_REASONS.get(outcome.status, 'Unknown')}"
    start_response(
        status,
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))), *(headers or [])],
    )
    return [] if head else [body]
