"""Children inside apps: `analysis.children[key].ask(...)`, failures as exceptions, tree attributes, monitor
messages."""

import os
import uuid

import pytest

from octue_beam import run_locally
from octue_beam.exceptions import RemoteException
from octue_beam.service.loading import load_service
from octue_beam.service.running import answer
from octue_beam.testing import ChildEmulator, emulated_children
from tests.support.service_dirs import write_service

CHILD_SRUID = "my-org/worker:1.0.0"
CHILDREN_TWINE = {
    "children": [{"key": "worker", "purpose": "does the work"}],
    "input_values_schema": {"type": "object"},
    "output_values_schema": {"type": "object"},
}
CHILDREN_CONFIGURATION = [
    {"key": "worker", "id": CHILD_SRUID, "backend": {"name": "GCPPubSubBackend", "project_id": "a-project"}}
]


def crash(exception_type: str, message: str = "the child failed") -> ChildEmulator:
    attributes = {"sender": CHILD_SRUID, "question_uuid": str(uuid.uuid4())}
    return ChildEmulator(
        [
            {"event": {"kind": "delivery_acknowledgement"}, "attributes": attributes},
            {"event": {"kind": "exception", "exception_type": exception_type, "exception_message": message,
                       "exception_traceback": ['  File "child/app.py", line 9, in run\n']}, "attributes": attributes},
        ]
    )


def parent(tmp_path, app: str) -> str:
    return write_service(
        tmp_path / "parent", app=app, twine=CHILDREN_TWINE, service={"children": CHILDREN_CONFIGURATION}
    )


CATCHING_APP = """
def run(analysis):
    try:
        analysis.children["worker"].ask(input_values={"n": 1})
    except ValueError as error:
        analysis.output_values = {"caught": type(error).__name__, "message": str(error).splitlines()[0]}
"""


def test_a_child_failure_is_an_exception_the_parent_app_can_catch(tmp_path):
    with emulated_children({"worker": crash("ValueError", "bad n")}):
        analysis = run_locally(parent(tmp_path, CATCHING_APP), input_values={})
    assert analysis.output_values == {"caught": "ValueError", "message": "bad n"}


UNCAUGHT_APP = """
def run(analysis):
    analysis.children["worker"].ask(input_values={"n": 1})
"""


@pytest.mark.parametrize("exception_type, expected", [("TypeError", TypeError), ("DatabaseLocked", RemoteException)])
def test_an_uncaught_child_failure_fails_the_parent_with_the_child_exception_type(tmp_path, exception_type, expected):
    with (
        emulated_children({"worker": crash(exception_type)}),
        pytest.raises(expected, match="the child failed") as raised,
    ):
        run_locally(parent(tmp_path, UNCAUGHT_APP), input_values={})
    assert type(raised.value).__name__ == exception_type
    assert "child/app.py" in str(raised.value)  # the remote traceback is kept


def test_a_missing_child_key_names_the_known_keys_and_where_children_are_configured(tmp_path):
    app = """
def run(analysis):
    analysis.children["wrokre"].ask(input_values={})
"""
    service_dir = parent(tmp_path, app)
    with pytest.raises(KeyError) as raised:
        run_locally(service_dir, input_values={})
    message = str(raised.value)
    assert "'wrokre'" in message and "'worker'" in message
    assert "octue.yaml" in message and "children" in message

    override = [{**CHILDREN_CONFIGURATION[0], "id": "my-org/other-worker:2.0.0"}]
    with pytest.raises(KeyError, match="question's 'children'"):
        run_locally(service_dir, input_values={}, children=override)


def test_the_question_children_override_replaces_the_configured_ones(tmp_path):
    app = """
def run(analysis):
    analysis.output_values = {"id": analysis.children["worker"].id}
"""
    override = [{**CHILDREN_CONFIGURATION[0], "id": "my-org/other-worker:2.0.0"}]
    analysis = run_locally(parent(tmp_path, app), input_values={}, children=override)
    assert analysis.output_values == {"id": "my-org/other-worker:2.0.0"}


def test_questions_asked_of_emulated_children_carry_the_tree_attributes(tmp_path):
    emulator = ChildEmulator(
        [{"event": {"kind": "result", "output_values": {}}, "attributes": {"sender": CHILD_SRUID}}]
    )
    app = """
def run(analysis):
    analysis.children["worker"].ask(input_values={})
"""
    service = load_service(parent(tmp_path, app))
    with emulated_children({"worker": emulator}):
        answer(service, question_uuid="2b1f4d7e-6c5a-4b3e-9d2c-1a0f9e8d7c6b", input_values={},
               originator_question_uuid="9e8d7c6b-5a4f-4e3d-8c2b-1a0f2b1f4d7e", originator="root-org/root:1.0.0")
    [question] = emulator.questions
    assert question["parent_question_uuid"] == "2b1f4d7e-6c5a-4b3e-9d2c-1a0f9e8d7c6b"
    assert question["originator_question_uuid"] == "9e8d7c6b-5a4f-4e3d-8c2b-1a0f2b1f4d7e"
    assert question["originator"] == "root-org/root:1.0.0"
    assert question["parent_sruid"] == service.sruid


# --- a real tree over the Pub/Sub emulator: root -> A (here) -> B (in-test responder running B's app) -> C ------------


def test_tree_attributes_and_monitor_messages_through_a_tree_of_depth_three(tmp_path, pubsub_emulator):
    from octue_beam.messaging import events
    from tests.asking.responder import Responder

    project = os.environ["GOOGLE_CLOUD_PROJECT"]
    suffix = uuid.uuid4().hex[:8]
    b_sruid, c_sruid = f"test-org/service-b-{suffix}:local", f"test-org/service-c-{suffix}:local"

    def c_script(event, attributes, send):
        send(events.delivery_acknowledgement())
        send(events.monitor_message({"from": "c"}))
        send(events.result(output_values={"c": event["input_values"]["n"] + 1}))

    b_dir = write_service(
        tmp_path / "b",
        app="""
def run(analysis):
    answer, _ = analysis.children["c"].ask(input_values={"n": analysis.input_values["n"] * 10}, timeout=60)
    analysis.output_values = {"b": answer["output_values"]["c"]}
""",
        twine={
            "children": [{"key": "c"}],
            "input_values_schema": {"type": "object"},
            "output_values_schema": {"type": "object"},
        },
        service={
            "name": f"service-b-{suffix}",
            "children": [{"key": "c", "id": c_sruid, "backend": {"name": "GCPPubSubBackend", "project_id": project}}],
        },
    )
    service_b = load_service(b_dir)
    assert service_b.sruid == b_sruid

    def b_script(event, attributes, send):
        send(events.delivery_acknowledgement())
        try:
            analysis = answer(
                service_b,
                question_uuid=attributes["question_uuid"],
                input_values=event["input_values"],
                parent_question_uuid=attributes.get("parent_question_uuid"),
                originator_question_uuid=attributes.get("originator_question_uuid"),
                originator=attributes.get("originator"),
                handle_monitor_message=lambda data: send(events.monitor_message(data)),
            )
            send(analysis.result_event())
        except Exception as error:  # noqa: BLE001
            send(events.exception(error))

    a_dir = write_service(
        tmp_path / "a",
        app="""
def run(analysis):
    answer, _ = analysis.children["b"].ask(input_values={"n": 4}, timeout=60)
    analysis.output_values = {"a": answer["output_values"]["b"]}
""",
        twine={
            "children": [{"key": "b"}],
            "input_values_schema": {"type": "object"},
            "output_values_schema": {"type": "object"},
        },
        service={
            "name": "service-a",
            "children": [{"key": "b", "id": b_sruid, "backend": {"name": "GCPPubSubBackend", "project_id": project}}],
        },
    )
    service_a = load_service(a_dir)
    root_question, a_question = str(uuid.uuid4()), str(uuid.uuid4())
    monitor_messages = []
    with Responder(project, c_script, sruid=c_sruid) as c, Responder(project, b_script, sruid=b_sruid) as b:
        analysis = answer(
            service_a,
            question_uuid=a_question,
            input_values={},
            parent_question_uuid=root_question,
            originator_question_uuid=root_question,
            originator="root-org/root:1.0.0",
            handle_monitor_message=monitor_messages.append,
        )

    assert analysis.output_values == {"a": 41}
    [(_, b_attributes)] = b.questions
    [(_, c_attributes)] = c.questions
    assert b_attributes["parent_question_uuid"] == a_question
    assert b_attributes["parent"] == b_attributes["sender"] == service_a.sruid
    assert c_attributes["parent_question_uuid"] == b_attributes["question_uuid"]
    assert c_attributes["parent"] == c_attributes["sender"] == b_sruid
    for attributes in (b_attributes, c_attributes):
        assert attributes["originator_question_uuid"] == root_question
        assert attributes["originator"] == "root-org/root:1.0.0"
    # C's monitor message was forwarded by B (whose app gave no handler) and by A to the root's handler
    assert monitor_messages == [{"from": "c"}]


def test_ask_multiple_from_an_app_carries_tree_attributes_and_is_recorded(tmp_path, pubsub_emulator, monkeypatch):
    from octue_beam.messaging import events
    from octue_beam.service.diagnostics import Diagnostics
    from tests.asking.responder import Responder

    project = os.environ["GOOGLE_CLOUD_PROJECT"]
    worker_sruid = f"test-org/worker-{uuid.uuid4().hex[:8]}:1.0.0"

    def script(event, attributes, send):
        send(events.result(output_values=event["input_values"] * 2))

    app = """
def run(analysis):
    answers = analysis.children["worker"].ask_multiple({"input_values": 1}, {"input_values": 2, "timeout": 60})
    analysis.output_values = {"answers": [answer["output_values"] for answer, _ in answers]}
"""
    configuration = [
        {"key": "worker", "id": worker_sruid, "backend": {"name": "GCPPubSubBackend", "project_id": project}}
    ]
    service = load_service(
        write_service(tmp_path / "p", app=app, twine=CHILDREN_TWINE, service={"children": configuration})
    )
    recorded = []
    original_init = Diagnostics.__init__

    def keep(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        recorded.append(self)

    monkeypatch.setattr(Diagnostics, "__init__", keep)
    question_uuid = str(uuid.uuid4())
    with Responder(project, script, sruid=worker_sruid) as worker:
        analysis = answer(service, question_uuid=question_uuid, input_values={})

    assert analysis.output_values == {"answers": [2, 4]}
    assert sorted(attributes["parent_question_uuid"] for _, attributes in worker.questions) == [question_uuid] * 2
    assert all(attributes["originator_question_uuid"] == question_uuid for _, attributes in worker.questions)
    questions = recorded[0].questions.questions
    assert [(q["key"], q["input_values"]) for q in questions] == [("worker", 1), ("worker", 2)]
    assert all(q["events"][-1]["event"]["kind"] == "result" for q in questions)
