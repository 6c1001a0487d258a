"""Secrets (a twine's credentials, from the environment, a .env file or Google Secret Manager) never appear in what
a service sends or keeps: answers, forwarded log records, its own logs, or the diagnostics it saves."""

import json
import logging
import os
import uuid

import pytest

from octue_beam.answering import Answerer, Question, check_message
from octue_beam.messaging import events
from octue_beam.messaging.attributes import SAVE_DIAGNOSTICS_ON, encode_attributes, question_attributes
from octue_beam.messaging.publishing import MemoryPublisher
from octue_beam.storage import client
from octue_beam.twine.credentials import populate_from_secret_manager
from tests.support.service_dirs import write_service

CREDENTIAL = "OCTUE_BEAM_TEST_API_TOKEN"
PARENT = "octue-beam-tests/secret-parent:local"

APP = """
import logging
import os

logger = logging.getLogger("secret_keeper")


def run(analysis):
    token = os.environ["OCTUE_BEAM_TEST_API_TOKEN"]
    logger.info("Calling the API with a token of %d characters.", len(token))
    if analysis.input_values.get("crash"):
        raise RuntimeError("The API refused the request.")
    analysis.output_values = {"ok": True}
"""

TWINE = {
    "credentials": [{"name": CREDENTIAL, "purpose": "An API token"}],
    "input_values_schema": {"type": "object"},
    "output_values_schema": {"type": "object"},
}


@pytest.fixture
def secret(monkeypatch):
    value = f"s3cret-{uuid.uuid4().hex}"
    monkeypatch.setenv(CREDENTIAL, value)
    return value


def ask(answerer: Answerer, input_values: dict) -> str:
    sruid = answerer.service.sruid
    attributes = question_attributes(sender=PARENT, recipient=sruid, sender_sdk_version="0.69.0", forward_logs=True,
                                     save_diagnostics=SAVE_DIAGNOSTICS_ON)
    data = json.dumps(events.question(input_values=input_values)).encode()
    asked = check_message(data, encode_attributes(attributes), sruid, 10_000_000)
    assert isinstance(asked, Question), asked
    answerer.answer(asked).wait()
    return attributes["question_uuid"]


def test_a_credential_never_appears_in_answers_forwarded_logs_logs_or_diagnostics(tmp_path, test_bucket, secret,
                                                                                  caplog):
    diagnostics = f"gs://{test_bucket}/secrets-{uuid.uuid4().hex[:8]}"
    service_dir = write_service(tmp_path / "secret-keeper", app=APP, twine=TWINE,
                                service={"name": "secret-keeper", "diagnostics_cloud_path": diagnostics})
    publisher = MemoryPublisher()
    with caplog.at_level(logging.DEBUG):
        answerer = Answerer.load(str(service_dir), publisher, heartbeat_interval=0)
        try:
            assert answerer.service is not None, answerer.load_error
            asked = [ask(answerer, {"crash": True}), ask(answerer, {})]
        finally:
            answerer.close()

    sent = b"\n".join(data + json.dumps(attributes).encode() for data, attributes in publisher.messages)
    assert b"token of" in sent and b"RuntimeError" in sent  # logs were forwarded and the crash was answered
    assert secret.encode() not in sent
    assert "token of" in caplog.text and secret not in caplog.text
    saved = [info["cloud_path"] for uuid_ in asked for info in client.list_objects(f"{diagnostics}/{uuid_}")]
    for question_uuid in asked:  # diagnostics were saved for both questions
        assert f"{diagnostics}/{question_uuid}/logs.json" in saved, saved
    assert b"token of" in client.download_bytes(next(path for path in saved if path.endswith("logs.json")))
    for path in saved:
        assert secret.encode() not in client.download_bytes(path), path


def test_secrets_loaded_from_secret_manager_are_never_logged(monkeypatch, caplog):
    value = f"s3cret-{uuid.uuid4().hex}"
    monkeypatch.delenv(CREDENTIAL, raising=False)

    class Payload:
        data = value.encode()

    class SecretManager:
        def access_secret_version(self, name):
            if name.endswith("/MISSING_ONE/versions/latest"):
                raise PermissionError("permission denied on MISSING_ONE")
            return type("Response", (), {"payload": Payload()})()

    with caplog.at_level(logging.DEBUG):
        loaded = populate_from_secret_manager([CREDENTIAL, "MISSING_ONE"], "my-project", client=SecretManager())
    assert loaded == [CREDENTIAL]
    assert os.environ[CREDENTIAL] == value
    monkeypatch.delenv(CREDENTIAL)
    assert "MISSING_ONE" in caplog.text and value not in caplog.text
