"""A local stand-in for a Google REST API: an HTTP server that records every request and answers from routes.

Google's client libraries are pointed at it with their REST transport
(`client_options={"api_endpoint": standin.endpoint}`, `transport="rest"`, anonymous credentials), so a test runs the
library's real code path and asserts the exact requests it sent:

    with GoogleApiStandIn() as standin:
        standin.route("POST", r"/v1b3/projects/p/locations/r/flexTemplates:launch", {"job": {"id": "1"}})
        client = FlexTemplatesServiceClient(
            credentials=AnonymousCredentials(), transport="rest", client_options={"api_endpoint": standin.endpoint}
        )
        ...
        assert standin.requests[0].json["launchParameter"]["jobName"] == ...

A route's response is a JSON-able value, or a callable taking the `RecordedRequest` and returning one, or
`(status, value)`. Unrouted requests get a Google-style 404 error, so a call nobody expected fails the test loudly.
"""

import dataclasses
import json
import re
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclasses.dataclass
class RecordedRequest:
    """One request the stand-in received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        """The body parsed as JSON (None when empty)."""
        return json.loads(self.body) if self.body else None


Response = Any | Callable[[RecordedRequest], Any]


class GoogleApiStandIn:
    """A recording HTTP server standing in for a Google API (context manager; `stop()` when used without one)."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._routes: list[tuple[str, re.Pattern, Response]] = []
        self._lock = threading.Lock()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                url = urlsplit(self.path)
                request = RecordedRequest(
                    method=self.command,
                    path=url.path,
                    query=parse_qs(url.query),
                    headers={key.lower(): value for key, value in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                )
                status, value = standin._respond(request)
                payload = json.dumps(value).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="google-api-stand-in")
        self._thread.start()

    @property
    def endpoint(self) -> str:
        """The `api_endpoint` to give a client: `http://127.0.0.1:<port>`."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def route(self, method: str, path_pattern: str, response: Response) -> None:
        """Answer `method` requests whose path fully matches the regex `path_pattern` with `response`."""
        with self._lock:
            self._routes.append((method.upper(), re.compile(path_pattern), response))

    def requests_to(self, method: str, path_pattern: str) -> list[RecordedRequest]:
        """The recorded requests with this method whose path fully matches `path_pattern`."""
        pattern = re.compile(path_pattern)
        return [r for r in self.requests if r.method == method.upper() and pattern.fullmatch(r.path)]

    def _respond(self, request: RecordedRequest) -> tuple[int, Any]:
        with self._lock:
            self.requests.append(request)
            routes = list(self._routes)
        for method, pattern, response in routes:
            if method == request.method and pattern.fullmatch(request.path):
                value = response(request) if callable(response) else response
                if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], int):
                    return value
                return 200, value
        message = f"The stand-in has no route for {request.method} {request.path}."
        return 404, {"error": {"code": 404, "message": message, "status": "NOT_FOUND"}}

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "GoogleApiStandIn":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
