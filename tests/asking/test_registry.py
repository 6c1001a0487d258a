"""Service registries, against a real HTTP registry served on loopback."""

import http.server
import json
import threading
import urllib.parse

import pytest

from octue_beam.asking.registry import resolve_service_id
from octue_beam.exceptions import InvalidServiceID, ServiceNotFound

SERVICES = {"my-org/elevation": {"default": "1.2.0", "tags": {"1.2.0", "1.1.0"}}}


class RegistryHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        service = SERVICES.get(url.path.strip("/"))
        tag = urllib.parse.parse_qs(url.query).get("revision_tag", [None])[0]
        if service is None or (tag is not None and tag not in service["tags"]):
            self.send_response(404)
            self.end_headers()
            return
        body = json.dumps({"revision_tag": tag or service["default"]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def registry():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RegistryHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"name": "test registry", "endpoint": f"http://127.0.0.1:{server.server_port}"}
    server.shutdown()
    server.server_close()


def test_default_revision_is_resolved(registry):
    assert resolve_service_id("my-org/elevation", [registry]) == "my-org/elevation:1.2.0"


def test_registries_are_tried_in_priority_order(registry):
    unreachable = {"name": "down", "endpoint": "http://127.0.0.1:9"}
    assert resolve_service_id("my-org/elevation", [unreachable, registry]) == "my-org/elevation:1.2.0"


def test_registered_revision(registry):
    assert resolve_service_id("my-org/elevation:1.1.0", [registry]) == "my-org/elevation:1.1.0"


def test_unregistered_revision(registry):
    with pytest.raises(ServiceNotFound, match="my-org/elevation:9.9.9 is not registered"):
        resolve_service_id("my-org/elevation:9.9.9", [registry])


def test_unknown_service(registry):
    with pytest.raises(ServiceNotFound, match="No default revision of 'my-org/unknown'.*test registry"):
        resolve_service_id("my-org/unknown", [registry])


def test_no_tag_and_no_registries():
    with pytest.raises(InvalidServiceID, match="no revision tag and no service registries"):
        resolve_service_id("my-org/elevation", None)


def test_tag_without_registries_is_used_as_is():
    assert resolve_service_id("my-org/elevation:3.0.0", []) == "my-org/elevation:3.0.0"
