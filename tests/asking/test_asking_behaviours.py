"""Retries, timeouts, asynchronous questions, ask_multiple, Child, logs and monitor messages in the asking thread,
registries and signed URLs: against the real Pub/Sub emulator with an in-test responder."""

import http.server
import json
import logging
import threading
import time
import urllib.parse
import uuid

import pytest

import octue_beam
from octue_beam import exceptions
from octue_beam.asking import Child, ask, ask_multiple, default_parent_sruid, forget, get_answer, get_events
from octue_beam.asking.logs import prefixed_message, split_prefixes
from octue_beam.context import current_question, monitor_forwarder_context, question_context
from octue_beam.messaging import events
from tests.asking.responder import Responder
from tests.support.subscriptions import subscribed_but_not_reading

PROJECT = "octue-beam-test"


@pytest.fixture(autouse=True)
def emulator(pubsub_emulator):
    return pubsub_emulator


def fail_first_attempts(failures: int, error_type: str = "ValueError"):
    """A script failing the first `failures` attempts of each question, then doubling `n`."""

    def script(event, attributes, send):
        send(events.delivery_acknowledgement())
        if attributes["retry_count"] < failures:
            send({"kind": "exception", "exception_type": error_type,
                  "exception_message": f"attempt {attributes['retry_count']} failed", "exception_traceback": []})
            return
        send(events.result(output_values=event["input_values"]["n"] * 2))

    return script


def double(event, attributes, send):
    n = event["input_values"]["n"]
    send(events.delivery_acknowledgement())
    if n < 0:
        send({"kind": "exception", "exception_type": "ValueError", "exception_message": f"n={n} is negative",
              "exception_traceback": []})
        return
    send(events.result(output_values=n * 2))


# --- retries ----------------------------------------------------------------------------------------------------


def test_a_retry_after_a_failure_succeeds_with_the_same_question_uuid_and_a_higher_retry_count(caplog):
    with Responder(PROJECT, fail_first_attempts(2)) as child, caplog.at_level(logging.WARNING):
        answer, question_uuid = ask(child.sruid, {"n": 4}, max_retries=2, timeout=60)
    assert answer["output_values"] == 8
    assert [attributes["question_uuid"] for _, attributes in child.questions] == [question_uuid] * 3
    assert [attributes["retry_count"] for _, attributes in child.questions] == [0, 1, 2]
    assert "retrying (retry 1 of 2)" in caplog.text


def test_the_last_error_is_raised_when_retries_run_out():
    with Responder(PROJECT, fail_first_attempts(5)) as child:
        with pytest.raises(ValueError, match="attempt 1 failed"):
            ask(child.sruid, {"n": 4}, max_retries=1, timeout=60)
    assert [attributes["retry_count"] for _, attributes in child.questions] == [0, 1]


def test_prevent_retries_when_stops_retries():
    with Responder(PROJECT, fail_first_attempts(5)) as child:
        with pytest.raises(ValueError, match="attempt 0 failed"):
            ask(child.sruid, {"n": 4}, max_retries=3, prevent_retries_when=[ValueError], timeout=60)
    assert len(child.questions) == 1


def test_raise_errors_false_returns_the_error_and_logs_it(caplog):
    with Responder(PROJECT, fail_first_attempts(5, "MyAppError")) as child, caplog.at_level(logging.ERROR):
        error, question_uuid = ask(child.sruid, {"n": 4}, max_retries=1, raise_errors=False, timeout=60)
    assert isinstance(error, exceptions.RemoteException) and type(error).__name__ == "MyAppError"
    assert error.remote_message == "attempt 1 failed"
    assert error.question_uuid == question_uuid
    assert f"Question {question_uuid} to {child.sruid} failed after 2 attempts: MyAppError" in caplog.text


def test_log_errors_false_keeps_a_returned_error_quiet(caplog):
    with Responder(PROJECT, fail_first_attempts(1)) as child, caplog.at_level(logging.ERROR):
        error, _ = ask(child.sruid, {"n": 4}, raise_errors=False, log_errors=False, timeout=60)
    assert isinstance(error, ValueError)
    assert "failed after" not in caplog.text


# --- timeouts ---------------------------------------------------------------------------------------------------


def test_a_service_that_is_not_running_times_out_after_the_delivery_acknowledgement_timeout():
    service = f"test-org/not-running-{uuid.uuid4().hex[:8]}:1.0.0"
    with subscribed_but_not_reading(service), pytest.raises(
        TimeoutError, match=rf"{service} did not acknowledge question .* within 1 s "
                            r"\(delivery_acknowledgement_timeout\): it is not running"
    ):
        ask(service, {"n": 1}, delivery_acknowledgement_timeout=1, timeout=120)


def test_a_timeout_is_retried_too():
    service = f"test-org/not-running-{uuid.uuid4().hex[:8]}:1.0.0"
    with subscribed_but_not_reading(service):
        error, _ = ask(service, {"n": 1}, delivery_acknowledgement_timeout=0.5, max_retries=1, raise_errors=False,
                       log_errors=False)
    assert isinstance(error, exceptions.QuestionTimeout) and "(attempt 2)" in str(error)


def test_a_slow_start_is_not_timed_out():
    """The acknowledgement arrives after longer than maximum_heartbeat_interval; heartbeats follow in time."""

    def slow_start(event, attributes, send):
        time.sleep(2.5)
        send(events.delivery_acknowledgement())
        for _ in range(3):
            time.sleep(0.3)
            send(events.heartbeat())
        send(events.result(output_values="done"))

    with Responder(PROJECT, slow_start) as child:
        answer, _ = ask(child.sruid, {"n": 1}, maximum_heartbeat_interval=1, delivery_acknowledgement_timeout=60,
                        timeout=60)
    assert answer["output_values"] == "done"


# --- asynchronous questions -------------------------------------------------------------------------------------


def test_an_asynchronous_question_is_answered_and_its_events_can_be_read_later(caplog):
    def answer_later(event, attributes, send):
        send(events.delivery_acknowledgement())
        send(events.log_record(logging.LogRecord("child.app", logging.INFO, "app.py", 1, "halfway", None, None)))
        send(events.result(output_values=event["input_values"]["n"] * 2))

    with Responder(PROJECT, answer_later) as child, caplog.at_level(logging.INFO):
        answer, question_uuid = ask(child.sruid, {"n": 21}, asynchronous=True)
        assert answer is None
        deadline = time.monotonic() + 30
        while len(get_events(question_uuid)) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        kinds = [e["event"]["kind"] for e in get_events(question_uuid)]
        assert kinds == ["delivery_acknowledgement", "log_record", "result"]
        assert get_answer(question_uuid)["output_values"] == 42
    assert f"[{child.sruid} | {question_uuid}] halfway" in caplog.text
    with pytest.raises(KeyError, match="not asked asynchronously in this process, or was forgotten"):
        get_events(question_uuid)


def test_get_answer_waits_and_its_own_timeout_keeps_the_question():
    release = threading.Event()

    def answer_when_released(event, attributes, send):
        send(events.delivery_acknowledgement())
        release.wait(30)
        send(events.result(output_values="late"))

    with Responder(PROJECT, answer_when_released) as child:
        _, question_uuid = ask(child.sruid, {"n": 1}, asynchronous=True)
        with pytest.raises(TimeoutError, match="not answered yet"):
            get_answer(question_uuid, timeout=0.5)
        release.set()
        assert get_answer(question_uuid, timeout=30)["output_values"] == "late"


def test_events_buffered_while_nobody_reads_do_not_count_as_silence():
    """Read long after the answer arrived (longer than maximum_heartbeat_interval): the answer, not a timeout."""
    with Responder(PROJECT, double) as child:
        _, question_uuid = ask(child.sruid, {"n": 2}, asynchronous=True, maximum_heartbeat_interval=0.5)
        deadline = time.monotonic() + 30
        while not child.questions and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.5)
        assert get_answer(question_uuid)["output_values"] == 4


def test_no_timeouts_at_all_are_allowed():
    with Responder(PROJECT, double) as child:
        answer, _ = ask(child.sruid, {"n": 3}, timeout=None, maximum_heartbeat_interval=None,
                        delivery_acknowledgement_timeout=None)
    assert answer["output_values"] == 6


def test_a_forgotten_asynchronous_question_is_no_longer_buffered():
    _, question_uuid = ask(f"test-org/nobody-{uuid.uuid4().hex[:8]}:1.0.0", {"n": 1}, asynchronous=True)
    forget(question_uuid)
    forget(question_uuid)
    with pytest.raises(KeyError):
        get_answer(question_uuid)


# --- ask_multiple -----------------------------------------------------------------------------------------------


def test_ask_multiple_returns_answers_in_question_order_with_per_question_errors():
    with Responder(PROJECT, double) as child:
        answers = ask_multiple(
            [{"service_id": child.sruid, "input_values": {"n": n}, "timeout": 60} for n in (3, -1, 5, 0)],
            raise_errors=False,
            log_errors=False,
        )
    assert [answer["output_values"] for answer, _ in (answers[0], answers[2], answers[3])] == [6, 10, 0]
    assert isinstance(answers[1][0], ValueError) and "n=-1 is negative" in str(answers[1][0])
    asked = {attributes["question_uuid"]: event["input_values"]["n"] for event, attributes in child.questions}
    assert [asked[question_uuid] for _, question_uuid in answers] == [3, -1, 5, 0]


def test_ask_multiple_raises_the_first_error_when_asked_to():
    with Responder(PROJECT, double) as child:
        with pytest.raises(ValueError, match="n=-2 is negative"):
            octue_beam.ask_multiple([{"service_id": child.sruid, "input_values": {"n": n}} for n in (1, -2, 3)])


def test_ask_multiple_retries_and_limits_questions_in_flight():
    with Responder(PROJECT, fail_first_attempts(1)) as child:
        answers = Child(child.sruid).ask_multiple(
            *({"input_values": {"n": n}} for n in range(6)), max_retries=1, max_workers=2
        )
    assert [answer["output_values"] for answer, _ in answers] == [0, 2, 4, 6, 8, 10]
    assert sorted(attributes["retry_count"] for _, attributes in child.questions) == [0] * 6 + [1] * 6


def test_ask_multiple_per_question_options_override_the_defaults():
    with Responder(PROJECT, double) as child:
        answers = ask_multiple(
            [{"service_id": child.sruid, "input_values": {"n": -1}, "raise_errors": False, "log_errors": False},
             {"service_id": child.sruid, "input_values": {"n": 2}}],
        )
    assert isinstance(answers[0][0], ValueError) and answers[1][0]["output_values"] == 4


# --- Child ------------------------------------------------------------------------------------------------------


def test_child_asks_with_its_tree_and_records_received_events():
    parent_question_uuid, originator_question_uuid = str(uuid.uuid4()), str(uuid.uuid4())
    tree = {"parent_question_uuid": parent_question_uuid, "originator_question_uuid": originator_question_uuid,
            "originator": "test-org/originator:1.0.0"}
    with Responder(PROJECT, double) as responder:
        child = Child(responder.sruid, {"name": "GCPPubSubBackend", "project_id": PROJECT},
                      parent_sruid="test-org/parent:2.0.0", tree=tree)
        answer, question_uuid = child.ask({"n": 2}, timeout=60)
    assert answer["output_values"] == 4
    [(_, attributes)] = responder.questions
    assert attributes["parent_question_uuid"] == parent_question_uuid
    assert attributes["originator_question_uuid"] == originator_question_uuid
    assert attributes["originator"] == "test-org/originator:1.0.0"
    assert attributes["sender"] == attributes["parent"] == "test-org/parent:2.0.0"
    assert [e["event"]["kind"] for e in child.received_events] == ["delivery_acknowledgement", "result"]
    assert repr(child) == f"<Child {responder.sruid}>"


# --- logs and monitor messages in the asking thread -------------------------------------------------------------


class Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.seen = []

    def emit(self, record):
        self.seen.append((record.getMessage(), record.thread, current_question()))


def test_child_logs_and_monitor_messages_are_handled_in_the_asking_thread_and_context():
    """So a service forwards its children's logs and monitor messages to its own parent (a tree of any depth)."""

    def chatty(event, attributes, send):
        send(events.delivery_acknowledgement())
        record = logging.LogRecord("grandchild.app", logging.INFO, "app.py", 1, "[g/c:1 | q2] deep %s", ("down",), None)
        send(events.log_record(record))
        send(events.monitor_message({"progress": 1}))
        send(events.result(output_values=None))

    handler = Collect()
    logger = logging.getLogger("grandchild.app")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    forwarded = []

    def forward(data):
        forwarded.append((data, threading.get_ident(), current_question()))

    try:
        with Responder(PROJECT, chatty) as child, question_context("the-app-question"):
            with monitor_forwarder_context(forward):
                _, question_uuid = ask(child.sruid, {"n": 1}, timeout=60)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
    me = threading.get_ident()
    assert handler.seen == [(f"[{child.sruid} | {question_uuid}] [g/c:1 | q2] deep down", me, "the-app-question")]
    assert forwarded == [({"progress": 1}, me, "the-app-question")]


def test_an_explicit_monitor_handler_takes_precedence_over_the_forwarder():
    def monitor(event, attributes, send):
        send(events.monitor_message({"step": 1}))
        send(events.result(output_values=1))

    mine, forwarded = [], []
    with Responder(PROJECT, monitor) as child, monitor_forwarder_context(forwarded.append):
        ask(child.sruid, {"n": 1}, handle_monitor_message=mine.append, timeout=60)
    assert mine == [{"step": 1}] and forwarded == []


def test_log_prefixes_are_coloured_by_depth_on_a_terminal():
    message = prefixed_message("\x1b[38;5;32m[g/c:1 | q2]\x1b[0m [gg/c:1 | q3] hello [not | a prefix]", "c/c:1", "q1",
                               colour=True)
    assert message.startswith("\x1b[38;5;32m[c/c:1 | q1]\x1b[0m \x1b[38;5;172m[g/c:1 | q2]\x1b[0m \x1b[38;5;36m[gg/c:1")
    assert split_prefixes(message) == (["[c/c:1 | q1]", "[g/c:1 | q2]", "[gg/c:1 | q3]"], "hello [not | a prefix]")
    assert prefixed_message(message, "p/p:1", "q0", colour=False) == (
        "[p/p:1 | q0] [c/c:1 | q1] [g/c:1 | q2] [gg/c:1 | q3] hello [not | a prefix]"
    )


# --- service registries and signed URLs -------------------------------------------------------------------------


@pytest.fixture
def registry():
    """A loopback HTTP service registry; set `registry.services[namespace/name] = default revision tag`."""
    services = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            url = urllib.parse.urlparse(self.path)
            tag = services.get(url.path.strip("/"))
            asked = urllib.parse.parse_qs(url.query).get("revision_tag", [None])[0]
            if tag is None or (asked is not None and asked != tag):
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps({"revision_tag": tag}).encode())

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield {"name": "loopback", "endpoint": f"http://127.0.0.1:{server.server_port}", "services": services}
    server.shutdown()
    server.server_close()


def test_a_service_id_without_a_revision_tag_is_resolved_through_the_registries(registry):
    with Responder(PROJECT, double) as child:
        service, tag = child.sruid.split(":")
        registry["services"][service] = tag
        registries = [{"name": "loopback", "endpoint": registry["endpoint"]}]
        answer, _ = ask(service, {"n": 5}, service_registries=registries, timeout=60)
        answers = Child(service, service_registries=registries).ask_multiple({"input_values": {"n": 1}},
                                                                              {"input_values": {"n": 2}})
    assert answer["output_values"] == 10
    assert [a["output_values"] for a, _ in answers] == [2, 4]
    assert {attributes["recipient"] for _, attributes in child.questions} == {child.sruid}
    with pytest.raises(exceptions.ServiceNotFound, match="is not registered"):
        ask(f"{service}:9.9.9", {"n": 5}, service_registries=registries, asynchronous=True)


def test_cloud_datasets_are_sent_as_signed_urls_when_asked(test_bucket, tmp_path):
    from octue_beam.resources import Dataset, Manifest

    cloud_path = f"gs://{test_bucket}/asking/{uuid.uuid4().hex}/data"
    (tmp_path / "a.txt").write_text("some data")
    Dataset(path=str(tmp_path)).upload(cloud_path)
    manifest = Manifest(datasets={"data": cloud_path})

    def echo_manifest(event, attributes, send):
        send(events.result(output_values=event["input_manifest"]["datasets"]["data"]))

    with Responder(PROJECT, echo_manifest) as child:
        signed, _ = ask(child.sruid, input_manifest=manifest, use_signed_urls=True, timeout=60)
        unsigned, _ = ask(child.sruid, input_manifest=manifest, timeout=60)
    assert str(signed["output_values"]).startswith("http")
    assert "data" in str(signed["output_values"])
    assert unsigned["output_values"] == cloud_path or unsigned["output_values"]["path"] == cloud_path
    assert manifest.datasets["data"].path == cloud_path  # the caller's manifest is not changed



# --- a tree of questions: the grandchild's logs and monitor messages reach the originator ----------------------


class ForwardToParent(logging.Handler):
    """What a service's log forwarding does: send the records emitted in a question's context to its parent."""

    def __init__(self, question_uuid, send):
        super().__init__(logging.INFO)
        self.question_uuid = question_uuid
        self.send = send

    def emit(self, record):
        if current_question() == self.question_uuid:
            self.send(events.log_record(record))


def test_logs_and_monitor_messages_of_a_grandchild_reach_the_originator_with_the_tree_attributes():
    def grandchild_script(event, attributes, send):
        send(events.delivery_acknowledgement())
        send(events.log_record(logging.LogRecord("grandchild.app", logging.WARNING, "app.py", 1, "deep", None, None)))
        send(events.monitor_message({"grandchild": "halfway"}))
        send(events.result(output_values="from the grandchild"))

    with Responder(PROJECT, grandchild_script) as grandchild:

        def child_script(event, attributes, send):
            """A service answering: its app asks the grandchild inside the question's context."""
            send(events.delivery_acknowledgement())
            question_uuid = attributes["question_uuid"]
            handler = ForwardToParent(question_uuid, send)
            logging.getLogger().addHandler(handler)
            try:
                with question_context(question_uuid), monitor_forwarder_context(
                    lambda data: send(events.monitor_message(data))
                ):
                    tree = {"parent_question_uuid": question_uuid,
                            "originator_question_uuid": attributes["originator_question_uuid"],
                            "originator": attributes["originator"]}
                    answer, _ = Child(grandchild.sruid, parent_sruid=attributes["recipient"], tree=tree).ask(timeout=60)
            finally:
                logging.getLogger().removeHandler(handler)
            send(events.result(output_values=answer["output_values"]))

        with Responder(PROJECT, child_script) as child:
            collected = Collect()
            grandchild_logger = logging.getLogger("grandchild.app")
            grandchild_logger.addHandler(collected)
            monitor_messages = []
            try:
                answer, question_uuid = ask(child.sruid, {"n": 1}, timeout=60,
                                            handle_monitor_message=monitor_messages.append)
            finally:
                grandchild_logger.removeHandler(collected)

    assert answer["output_values"] == "from the grandchild"
    [(_, grandchild_question)] = grandchild.questions
    assert grandchild_question["parent_question_uuid"] == question_uuid
    assert grandchild_question["originator_question_uuid"] == question_uuid
    assert grandchild_question["originator"] == default_parent_sruid()
    assert grandchild_question["sender"] == child.sruid
    messages = [message for message, _, _ in collected.seen]
    grandchild_prefix = f"[{grandchild.sruid} | {grandchild_question['question_uuid']}]"
    assert f"[{child.sruid} | {question_uuid}] {grandchild_prefix} deep" in messages
    assert monitor_messages == [{"grandchild": "halfway"}]
