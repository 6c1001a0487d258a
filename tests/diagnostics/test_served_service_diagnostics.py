"""A served service (pipeline in a subprocess) saves diagnostics as the question's `save_diagnostics` asks."""

import uuid

import pytest

from octue_beam.messaging.attributes import SAVE_DIAGNOSTICS_OFF
from octue_beam.storage import client
from tests.support.service_dirs import write_service

APP = """
import logging

logger = logging.getLogger("fragile")


def run(analysis):
    logger.info("Dividing by %s.", analysis.input_values["d"])
    analysis.output_values = {"q": 1 / analysis.input_values["d"]}
"""


def test_a_served_service_saves_diagnostics_of_a_crash_unless_asked_not_to(tmp_path, local_service, test_bucket):
    diagnostics = f"gs://{test_bucket}/served-{uuid.uuid4().hex[:8]}"
    service_dir = write_service(
        tmp_path / "fragile",
        app=APP,
        twine={"input_values_schema": {"type": "object"}, "output_values_schema": {"type": "object"}},
        service={"name": "fragile", "diagnostics_cloud_path": diagnostics},
    )
    service = local_service(service_dir, "--heartbeat_interval", "1")

    crashed = str(uuid.uuid4())
    with pytest.raises(ZeroDivisionError):
        service.ask({"d": 0}, question_uuid=crashed, timeout=60)
    saved = f"{diagnostics}/{crashed}"
    assert client.download_json(f"{saved}/input_values.json") == {"d": 0}
    logs = client.download_json(f"{saved}/logs.json")
    assert any(record["msg"] == "Dividing by 0." for record in logs), service.log()

    not_saved = str(uuid.uuid4())
    with pytest.raises(ZeroDivisionError):
        service.ask({"d": 0}, question_uuid=not_saved, save_diagnostics=SAVE_DIAGNOSTICS_OFF, timeout=60)
    answer, fine = service.ask({"d": 4}, timeout=60)
    assert answer["output_values"] == {"q": 0.25}
    for question_uuid in (not_saved, fine):
        assert list(client.list_objects(f"{diagnostics}/{question_uuid}")) == []
