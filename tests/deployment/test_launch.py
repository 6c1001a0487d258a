"""The Flex Template launch entry: the file a default Dataflow image writes (`FLEX_TEMPLATE_PYTHON_PY_FILE`) takes the
template's parameters as Dataflow passes them (`--<name>=<value>`) and builds a working pipeline: run on the
DirectRunner against the Pub/Sub emulator, it answers a question; with `--dry_run` it builds the Dataflow job."""

import os
import re
import subprocess
import sys
import threading
import time
import uuid

import pytest

from octue_beam.deployment.dockerfiles import LAUNCH_FILE_IN_IMAGE, dockerfile_text
from octue_beam.messaging.pubsub import subscription_exists
from octue_beam.processes import stop_process_group
from tests.support.paths import FIXTURES
from tests.support.wire import publish_question, wire_to

PARENT = "octue-beam-tests/launch-parent:local"
REVISION_TAG = "3.1.4"
SRUID = f"octue-beam-tests/behaviours:{REVISION_TAG}"


@pytest.fixture
def launch_file(tmp_path):
    """The launch entry exactly as the default Dataflow image writes it: its Dockerfile's RUN line, run by a shell
    with the image's path moved into `tmp_path`."""
    text = dockerfile_text(str(FIXTURES / "behaviours"), "dataflow")
    [run] = [line for line in text.splitlines() if line.startswith("RUN ") and line.endswith(LAUNCH_FILE_IN_IMAGE)]
    path = tmp_path / "template" / "launch.py"
    command = run.removeprefix("RUN ").replace(os.path.dirname(LAUNCH_FILE_IN_IMAGE), str(path.parent))
    subprocess.run(["sh", "-c", command], check=True, timeout=30)
    return path


def wait_for(condition, process, output, timeout=120):
    """Wait until `condition()` holds; fail with the process's output if it exits first or `timeout` s pass."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, "the launch entry exited:\n" + "".join(output[-40:])
        assert time.monotonic() < deadline, "timed out; the launch entry said:\n" + "".join(output[-40:])
        time.sleep(0.2)


def test_the_launch_entry_runs_the_template_parameters_as_a_pipeline_that_answers(pubsub_emulator, launch_file):
    project = os.environ["GOOGLE_CLOUD_PROJECT"]
    suffix = uuid.uuid4().hex[:8]
    topic_name = f"test.services.launch.{suffix}"
    subscription_name = f"octue-beam-tests.behaviours.launch.{suffix}"
    parameters = [  # as Dataflow passes a template's parameters, followed by pipeline options of its own
        f"--service_dir={FIXTURES / 'behaviours'}",
        f"--revision_tag={REVISION_TAG}",
        f"--services_topic={topic_name}",
        f"--subscription={subscription_name}",
        "--heartbeat_interval=30",
        "--max_concurrent_questions=2",
        "--record_answers=false",
        "--runner=DirectRunner",
        f"--project={project}",
        "--job_name=octue-beam-tests-behaviours-3-1-4",
    ]
    with wire_to(project, PARENT, topic_name) as (listener, publisher):
        process = subprocess.Popen(
            [sys.executable, str(launch_file), *parameters],
            cwd=launch_file.parent, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            text=True, start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        output: list[str] = []
        threading.Thread(target=lambda: output.extend(process.stdout), daemon=True).start()
        try:
            # the entry creates the revision's subscription itself (filtered on its SRUID) before it runs
            wait_for(lambda: subscription_exists(project, subscription_name), process, output)
            question_uuid = publish_question(publisher, SRUID, PARENT, {"action": "echo", "value": 42})
            received = listener.wait_for_final(question_uuid, timeout=120)
        finally:
            stop_process_group(process)

    assert received[-1]["event"] == {"kind": "result", "output_values": {"action": "echo", "value": 42}}
    assert received[0]["event"]["kind"] == "delivery_acknowledgement"
    assert {event["attributes"]["sender"] for event in received} == {SRUID}
    assert any(f"Launching {SRUID}" in line and "BundleBasedDirectRunner" in line for line in output)


def test_the_launch_entry_finds_the_service_baked_into_the_image_and_builds_the_dataflow_job(launch_file):
    """No --service_dir: the image's $OCTUE_SERVICE_DIR; no --runner: Dataflow (here a dry run, offline)."""
    completed = subprocess.run(
        [sys.executable, str(launch_file), "--dry_run=True", "--no_auth", "--project=my-project",
         "--region=europe-west1", "--temp_location=gs://valid-bucket-name/tmp", f"--revision_tag={REVISION_TAG}"],
        cwd=launch_file.parent, capture_output=True, text=True, timeout=120,
        env={**os.environ, "OCTUE_SERVICE_DIR": str(FIXTURES / "behaviours")},
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert re.search(
        rf"Launching {re.escape(SRUID)}: projects/my-project/subscriptions/octue-beam-tests\.behaviours\.3-1-4 -> "
        r"projects/my-project/topics/main\.octue\.twined\.services on DataflowRunner \(dry run\)",
        completed.stderr,
    ), completed.stderr[-3000:]

