"""`python -m octue_beam run [SERVICE_DIR]`: serve a service as a Beam streaming pipeline.

Locally (the default `--runner DirectRunner`, run on BundleBasedDirectRunner): with no PUBSUB_EMULATOR_HOST and no
project configured, the Pub/Sub and Cloud Storage emulators are started (and stopped on exit); the services topic
and this revision's subscription are created; the pipeline runs until Ctrl-C or SIGTERM. With `--runner
DataflowRunner` the same graph is submitted to Dataflow (or only built, with `--dry_run True`) and the command exits.
Options this command does not know are Beam pipeline options (and ServiceOptions, e.g. `--heartbeat_interval 5`).
"""

import argparse
import json
import logging
import os
import shlex
import signal
import sys
import threading
from typing import Any

logger = logging.getLogger(__name__)

READY_MESSAGE = "is ready"


class _PassThroughParser(argparse.ArgumentParser):
    """Keeps arguments it does not know in `pipeline_args` (they are Beam pipeline options) instead of failing."""

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> tuple[argparse.Namespace, list[str]]:
        namespace, extras = super().parse_known_args(args, namespace)
        namespace.pipeline_args = list(getattr(namespace, "pipeline_args", None) or []) + list(extras)
        return namespace, []


def add_run_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run",
        help="Serve a service: run it as a Beam streaming pipeline answering questions from Pub/Sub.",
        description=(
            "Load the service in SERVICE_DIR and run it as a streaming pipeline reading questions for its SRUID from "
            "Pub/Sub and answering them. Locally (DirectRunner), the Pub/Sub and Cloud Storage emulators are started "
            "when PUBSUB_EMULATOR_HOST is unset and no project is configured. Any other option is passed to Beam as a "
            "pipeline option, e.g. --heartbeat_interval 5, --max_concurrent_questions 20, --dead_letter_topic NAME, "
            "--subscription NAME, --services_topic NAME, --max_message_bytes N, or Dataflow's --region, "
            "--temp_location, --dry_run True."
        ),
    )
    parser.__class__ = _PassThroughParser  # subparsers build plain ArgumentParsers; this one passes unknowns through
    parser.add_argument("service_dir", nargs="?", default=".", help="folder of the service's octue.yaml (default: .)")
    parser.add_argument("--runner", default="DirectRunner", help="DirectRunner (local, default) or DataflowRunner")
    parser.add_argument(
        "--revision-tag",
        "--revision_tag",
        dest="revision_tag",
        help="revision tag of the service (default: $OCTUE_SERVICE_REVISION_TAG, else 'local')",
    )
    parser.add_argument("--project", help="Google Cloud project (default: the configured one, else local emulators)")
    parser.add_argument(
        "--with",
        dest="companions",
        action="append",
        default=[],
        metavar="OTHER_SERVICE_DIR",
        help="also serve this service (e.g. a child) in a subprocess on the same emulators; repeatable (local runs only)",
    )
    parser.add_argument(
        "--ask",
        metavar="INPUT_VALUES",
        help="once the service is ready, ask it one question with these input values (JSON or the path of a JSON file), "
        "print the answer as JSON, stop everything and exit (local runs only)",
    )
    parser.add_argument("--ask-manifest", metavar="FILE", help="input manifest (JSON or a JSON file) for --ask")
    parser.add_argument("--ask-timeout", type=float, default=300, help="seconds to wait for the --ask answer (default: 300)")
    parser.set_defaults(handler=run_command, pipeline_args=[])


def _pipeline_options(args: argparse.Namespace, project: str | None) -> Any:
    from apache_beam.options.pipeline_options import PipelineOptions

    argv = list(args.pipeline_args)
    argv += ["--service_dir", os.path.abspath(args.service_dir), "--runner", args.runner]
    if args.revision_tag:
        argv += ["--revision_tag", args.revision_tag]
    if project:
        argv += ["--project", project]
    return PipelineOptions(argv)


def run_command(args: argparse.Namespace) -> int:
    from octue_beam.pipeline.runners import LOCAL_RUNNER, resolve_runner_name

    if resolve_runner_name(args.runner) == LOCAL_RUNNER:
        return _run_locally(args)
    return _run_remotely(args)


def _run_remotely(args: argparse.Namespace) -> int:
    """Build the graph and submit it (Dataflow); exit after `run()` as a Flex Template launcher must."""
    from octue_beam.pipeline.building import build_service_pipeline

    options = _pipeline_options(args, args.project)
    pipeline, plan = build_service_pipeline(options)
    dry_run = str(options.get_all_options().get("dry_run", "")).lower() in ("true", "1")
    if not dry_run:
        _create_resources(plan)
    result = pipeline.run()
    print(f"Service {plan.sruid}: pipeline {'built (dry run)' if dry_run else 'submitted'} on {plan.runner}.")
    print(f"  reads {plan.subscription_path}, answers on {plan.topic_path}")
    job_id = getattr(result, "job_id", None)
    if callable(job_id):
        try:
            print(f"  job id: {job_id()}")
        except Exception:  # noqa: BLE001 - dry runs have no job
            pass
    return 0


def _create_resources(plan: Any) -> None:
    """The services topic and this revision's subscription (filtered on its SRUID), created if missing."""
    from octue_beam.messaging.pubsub import ensure_subscription, ensure_topic, service_subscription_filter

    ensure_topic(plan.topic_project, plan.topic_name)
    if plan.topic_project == plan.subscription_project:
        ensure_subscription(
            plan.subscription_project,
            plan.subscription_name,
            topic_name=plan.topic_name,
            filter=service_subscription_filter(plan.sruid),
            create_topic=False,
        )
    else:
        _ensure_cross_project_subscription(plan)
    if plan.dead_letter_topic:
        project, name = plan.dead_letter_topic.split("/")[1], plan.dead_letter_topic.split("/")[3]
        ensure_topic(project, name)


def _ensure_cross_project_subscription(plan: Any) -> None:
    from google.api_core import exceptions as api_exceptions

    from octue_beam.messaging.pubsub import service_subscription_filter, subscriber_client

    try:
        subscriber_client().create_subscription(
            request={
                "name": plan.subscription_path,
                "topic": plan.topic_path,
                "filter": service_subscription_filter(plan.sruid),
                "ack_deadline_seconds": 600,
                "enable_message_ordering": True,
            }
        )
    except api_exceptions.AlreadyExists:
        pass


def _raise_keyboard_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _run_locally(args: argparse.Namespace) -> int:
    """Start what is needed locally, run the pipeline until interrupted, stop what was started."""
    from octue_beam.emulators.local import local_emulators
    from octue_beam.pipeline.building import build_service_pipeline

    question = _question_to_ask(args)
    previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    result = None
    code = 0
    try:
        with local_emulators(args.project) as local:
            options = _pipeline_options(args, args.project or local.project)
            pipeline, plan = build_service_pipeline(options)
            _create_resources(plan)
            companions = _start_companions(args.companions, plan)
            try:
                result = pipeline.run()
                _print_ready(plan, local, stream=sys.stderr if question is not None else sys.stdout)
                if question is not None:
                    code = _ask_once(plan, question, args.ask_timeout)
                else:
                    code = _wait(result, plan)
            finally:
                _stop_companions(companions)
    except KeyboardInterrupt:
        print("Stopping the service.", file=sys.stderr)
        code = 0
    finally:
        if result is not None:
            threading.Thread(target=_cancel_quietly, args=(result,), daemon=True).start()
        signal.signal(signal.SIGTERM, previous)
    _exit(code)


def _wait(result: Any, plan: Any) -> int:
    """Serve until interrupted; 1 if the pipeline stops by itself (e.g. it lost the emulator)."""
    try:
        result.wait_until_finish()
    except KeyboardInterrupt:
        raise
    except Exception as error:  # noqa: BLE001
        print(f"The service pipeline of {plan.sruid} stopped: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    return 0


def _exit(code: int) -> None:
    """Leave at once: the local runner's pull blocks for up to 30 s and question threads may still run, and
    everything started here has been stopped."""
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


def _question_to_ask(args: argparse.Namespace) -> dict | None:
    """The `--ask` question's inputs, read before anything starts so that bad JSON fails fast."""
    from octue_beam.cli import _load_json_argument

    if args.ask is None:
        if args.ask_manifest:
            raise ValueError("--ask-manifest needs --ask (the input values of the question).")
        return None
    return {
        "input_values": _load_json_argument(args.ask, "--ask"),
        "input_manifest": _load_json_argument(args.ask_manifest, "--ask-manifest"),
    }


def _start_companions(service_dirs: list[str], plan: Any) -> list:
    """Serve each of `service_dirs` in a subprocess on the same topic and emulators; wait until all are ready."""
    from concurrent import futures

    from octue_beam.emulators.services import LocalService

    companions = [
        LocalService(service_dir, topic_name=plan.topic_name, environment={"GOOGLE_CLOUD_PROJECT": plan.project})
        for service_dir in service_dirs
    ]
    for companion, service_dir in zip(companions, service_dirs):
        print(f"Starting {companion.sruid} from {service_dir} ...", file=sys.stderr, flush=True)
    try:
        with futures.ThreadPoolExecutor(max_workers=max(1, len(companions))) as pool:
            for started in [pool.submit(companion.start) for companion in companions]:
                started.result()
    except BaseException:
        _stop_companions(companions)
        raise
    return companions


def _stop_companions(companions: list) -> None:
    from concurrent import futures

    with futures.ThreadPoolExecutor(max_workers=max(1, len(companions))) as pool:
        list(pool.map(lambda companion: companion.stop(), companions))


def _ask_once(plan: Any, question: dict, timeout: float) -> int:
    """Ask the service one question and print the answer (or the error) as JSON; 0 on a result, 1 otherwise."""
    from octue_beam.asking import ask

    print(f"Asking {plan.sruid}: {json.dumps(question['input_values'])}", file=sys.stderr, flush=True)
    try:
        answer, question_uuid = ask(
            plan.sruid, question["input_values"], question["input_manifest"], timeout=timeout, project=plan.project,
            topic_name=plan.topic_name, allow_local_files=True, subscribe_to_logs=False,
        )
    except Exception as error:  # noqa: BLE001 - reported as the command's one-paragraph error
        print(f"octue-beam run: the question failed: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
        return 1
    manifest = answer.get("output_manifest")
    output = {
        "question_uuid": question_uuid,
        "output_values": answer.get("output_values"),
        "output_manifest": manifest.to_primitive() if hasattr(manifest, "to_primitive") else manifest,
    }
    print(json.dumps(output, indent=2), flush=True)
    return 0


def _cancel_quietly(result: Any) -> None:
    try:
        result.cancel()
    except Exception:  # noqa: BLE001
        pass


def example_input_values(service: Any) -> Any:
    """Input values to show in the printed `ask` command: schema defaults/examples where given, else {}."""
    schema = (service.twine.to_primitive() or {}).get("input_values_schema") or {}
    if schema.get("examples"):
        return schema["examples"][0]
    example = {}
    for name, prop in (schema.get("properties") or {}).items():
        if isinstance(prop, dict):
            if "default" in prop:
                example[name] = prop["default"]
            elif prop.get("examples"):
                example[name] = prop["examples"][0]
            elif prop.get("enum") and name in (schema.get("required") or []):
                example[name] = prop["enum"][0]
    return example


def _print_ready(plan: Any, local: Any, stream: Any = None) -> None:
    """Say what runs where and how to ask it (on stderr when stdout is for an `--ask` answer)."""
    stream = stream or sys.stdout
    environment = {}
    if os.environ.get("PUBSUB_EMULATOR_HOST"):
        environment["PUBSUB_EMULATOR_HOST"] = os.environ["PUBSUB_EMULATOR_HOST"]
    if os.environ.get("STORAGE_EMULATOR_HOST"):
        environment["STORAGE_EMULATOR_HOST"] = os.environ["STORAGE_EMULATOR_HOST"]
    environment["GOOGLE_CLOUD_PROJECT"] = plan.project
    if os.environ.get("TWINED_SERVICES_TOPIC_NAME"):
        environment["TWINED_SERVICES_TOPIC_NAME"] = os.environ["TWINED_SERVICES_TOPIC_NAME"]
    prefix = " ".join(f"{key}={shlex.quote(value)}" for key, value in environment.items())
    values = json.dumps(example_input_values(plan.service))
    started = ", ".join(local.started) or "nothing (using what is configured)"
    print(f"Service {plan.sruid}: answering questions from {plan.subscription_path} on {plan.runner}.", file=stream)
    print(f"  SRUID: {plan.sruid}", file=stream)
    print(f"  emulators started here: {started}", file=stream)
    print("  Ask it from another shell:", file=stream)
    print(f"    {prefix} python -m octue_beam ask {plan.sruid} --input-values {shlex.quote(values)}", file=stream)
    print(f"Service {plan.sruid} {READY_MESSAGE} (stop it with Ctrl-C).", flush=True, file=stream)
