"""Messages built exactly as Octue 0.69 builds them (docs/protocol.md, OCTUE_REFERENCE §5.2)."""

import json

PARENT_SRUID = "octue/another-service:3.2.1"
CHILD_SRUID = "octue/test-service:1.0.0"
QUESTION_UUID = "d45c7e99-c8a8-4b1b-8a1e-6b1d7d8a2f10"
PARENT_QUESTION_UUID = "5776ad74-52a6-46f7-a526-90421d91b8b2"
ORIGINATOR_QUESTION_UUID = "86dc55b2-4282-42bd-92d0-bd4991ae7356"


def question_attributes(**overrides) -> dict[str, str]:
    """Wire attributes of a question, as Octue's QuestionAttributes.to_minimal_dict() + serialisation give them."""
    attributes = {
        "datetime": "2024-04-11T10:46:47.100012",
        "uuid": "c1f4b8d0-9a3e-4a54-8d36-1f0e2a4c9b11",
        "retry_count": "0",
        "question_uuid": QUESTION_UUID,
        "parent_question_uuid": PARENT_QUESTION_UUID,
        "originator_question_uuid": ORIGINATOR_QUESTION_UUID,
        "parent": PARENT_SRUID,
        "originator": PARENT_SRUID,
        "sender": PARENT_SRUID,
        "sender_type": "PARENT",
        "sender_sdk_version": "0.69.0",
        "recipient": CHILD_SRUID,
        "forward_logs": "1",
        "save_diagnostics": "SAVE_DIAGNOSTICS_ON_CRASH",
    }
    attributes.update(overrides)
    return {key: value for key, value in attributes.items() if value is not None}


def response_attributes(**overrides) -> dict[str, str]:
    """The example response attributes of Octue's tests/data/events.json (UUIDs completed)."""
    attributes = {
        "datetime": "2024-04-11T10:46:48.236064",
        "uuid": "a9de11b1-e88f-43fa-b3a4-40a590c3443f",
        "retry_count": "0",
        "question_uuid": QUESTION_UUID,
        "parent_question_uuid": PARENT_QUESTION_UUID,
        "originator_question_uuid": ORIGINATOR_QUESTION_UUID,
        "parent": "octue/test-service:1.0.0",
        "originator": "octue/test-service:1.0.0",
        "sender": "octue/test-service:1.0.0",
        "sender_type": "CHILD",
        "sender_sdk_version": "0.51.0",
        "recipient": "octue/another-service:3.2.1",
    }
    attributes.update(overrides)
    return {key: value for key, value in attributes.items() if value is not None}


QUESTION = {
    "kind": "question",
    "input_values": {"height": 4, "width": 72, "labels": {"_type": "set", "items": ["a", "b"]}},
    "input_manifest": {
        "id": "8ead7669-8162-4f64-8cd5-4abe92509e17",
        "name": None,
        "datasets": {
            "met_mast_data": "gs://my-bucket/met_mast_data",
            "signed": "https://storage.googleapis.com/my-bucket/.signed_metadata_files/abc?X-Goog-Signature=1",
        },
    },
    "children": [
        {"key": "wind_speed", "id": "template-child-services/wind-speed-service:2.1.1",
         "backend": {"name": "GCPPubSubBackend", "project_id": "my-project"}},
    ],
}

LOG_RECORD = {
    "kind": "log_record",
    "log_record": {
        "msg": "Starting analysis.", "levelname": "INFO", "levelno": 20, "name": "app", "created": 1712832408.2,
        "filename": "app.py", "funcName": "run", "lineno": 12, "module": "app", "msecs": 200.0,
        "pathname": "/workspace/app.py", "process": 1, "processName": "MainProcess", "relativeCreated": 51.2,
        "thread": 140, "threadName": "MainThread", "exc_text": None, "stack_info": None, "args": None,
        "exc_info": None,
    },
}

EXCEPTION = {
    "kind": "exception",
    "exception_type": "ValueError",
    "exception_message": "Error in <Service('octue/test-service:1.0.0')>: width must be positive",
    "exception_traceback": ['  File "/workspace/app.py", line 12, in run\n    raise ValueError("...")\n'],
}

RESULT = {
    "kind": "result",
    "output_values": [1, 2, 3],
    "output_manifest": {"id": "1b0c7f1e-6a55-4d8e-9e57-9d1f0a7b3c22", "name": None, "datasets": {"out": "gs://b/out"}},
}

RESPONSES = [
    {"kind": "delivery_acknowledgement"},
    {"kind": "heartbeat"},
    LOG_RECORD,
    {"kind": "monitor_message", "data": {"progress": 0.5}},
    EXCEPTION,
    RESULT,
    {"kind": "result"},
    {"kind": "result", "output_values": 0},
]


def data(event) -> bytes:
    return json.dumps(event).encode()
