"""Run by the `octue` interpreter (a separate venv with octue==0.69.1) in the messaging interop tests; not imported
by pytest.

`python octue_messaging_side.py serve|ask PARAMS_JSON`:
- `serve`: serve a real Octue service (SRUID `params["sruid"]`) that answers `input_values` with a log message, a
  monitor message and `{"doubled": 2n}`, or raises ValueError when `input_values["fail"]` is set; stops after
  `params["timeout"]` seconds.
- `ask`: ask `params["sruid"]` with Octue's `Child.ask` and print a JSON report of the answer or error.

Octue fetches its wire schema over HTTP, which is impossible offline, so its validation is switched off here: Octue
still parses and handles everything for real, and the octue_beam side validates Octue's messages with its schema.

Octue relies on Pub/Sub applying its subscription filters, which the emulator does not: an Octue parent's answer
subscription receives its own question and fails on it ("`sender_type` must be 'CHILD'"), and an Octue service
receives every response on the topic and nacks it forever. The filters are therefore emulated here, client-side.
"""

import json
import logging
import sys
from types import SimpleNamespace

import google.auth
import google.auth.credentials

google.auth.default = lambda *args, **kwargs: (google.auth.credentials.AnonymousCredentials(), "octue-beam-test")
logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

from octue.twined.cloud.events import validation  # noqa: E402

validation.jsonschema_validator = SimpleNamespace(validate=lambda data: None)

from octue.twined.cloud.pub_sub.events import GoogleCloudPubSubEventHandler  # noqa: E402
from octue.twined.cloud.pub_sub.service import Service  # noqa: E402
from octue.twined.resources.child import Child  # noqa: E402
from octue.twined.resources.service_backends import GCPPubSubBackend  # noqa: E402

_extract_and_validate_event = GoogleCloudPubSubEventHandler._extract_and_validate_event


def _filtered_extract_and_validate_event(self, container):
    """The answer subscription's filter: only CHILD events reach the parent."""
    if container.message.attributes.get("sender_type") != "CHILD":
        return None, None
    return _extract_and_validate_event(self, container)


GoogleCloudPubSubEventHandler._extract_and_validate_event = _filtered_extract_and_validate_event

_answer = Service.answer


def _filtered_answer(self, question, *args, **kwargs):
    """The service subscription's filter: only questions from parents to this service are answered."""
    attributes = getattr(question, "attributes", {})
    addressed_here = attributes.get("recipient") == self.id and attributes.get("sender_type") == "PARENT"
    if hasattr(question, "ack") and not addressed_here:
        question.ack()
        return None
    return _answer(self, question, *args, **kwargs)


Service.answer = _filtered_answer


def run_function(
    analysis_id, input_values, input_manifest, children, analysis_log_handler, handle_monitor_message, **kwargs
):
    logger = logging.getLogger("octue_side_app")
    logger.setLevel(logging.INFO)
    if analysis_log_handler is not None:
        logger.addHandler(analysis_log_handler)
    try:
        logger.info("Doubling %s.", input_values["n"])
        handle_monitor_message({"status": "halfway"})
        if input_values.get("fail"):
            raise ValueError("n must not fail")
        return SimpleNamespace(output_values={"doubled": input_values["n"] * 2}, output_manifest=None)
    finally:
        if analysis_log_handler is not None:
            logger.removeHandler(analysis_log_handler)


def serve(params):
    backend = GCPPubSubBackend(project_id=params["project"])
    service = Service(backend, service_id=params["sruid"], run_function=run_function)
    print("SERVING", flush=True)
    service.serve(timeout=params["timeout"], delete_topic_and_subscription_on_exit=False, allow_existing=True)


def ask(params):
    child = Child(id=params["sruid"], backend={"name": "GCPPubSubBackend", "project_id": params["project"]})
    monitor_messages = []
    try:
        answer, question_uuid = child.ask(
            input_values=params["input_values"],
            timeout=params["timeout"],
            handle_monitor_message=monitor_messages.append,
        )
    except Exception as error:  # noqa: BLE001
        import traceback

        report = {"error_type": type(error).__name__, "error": str(error), "traceback": traceback.format_exc()}
    else:
        report = {"answer": {"output_values": answer["output_values"], "output_manifest": answer["output_manifest"]},
                  "question_uuid": question_uuid}
    report["events"] = [event["event"]["kind"] for event in child.received_events]
    report["monitor_messages"] = monitor_messages
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    {"serve": serve, "ask": ask}[sys.argv[1]](json.loads(sys.argv[2]))
