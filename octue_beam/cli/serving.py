"""What `octue-beam run` does: serve a service as a Beam streaming pipeline.

Locally (the default `--runner DirectRunner`, run on BundleBasedDirectRunner): with no PUBSUB_EMULATOR_HOST and no
project configured, the Pub/Sub and Cloud Storage emulators are started (and stopped on exit); the services topic
and this revision's subscription are created; `--with` services are served alongside in subprocesses; the pipeline
runs until Ctrl-C or SIGTERM (or until the `--ask` question is answered). With `--runner DataflowRunner` the same
graph is submitted to Dataflow (or only built, with `--dry_run True`) and the command exits.

This module imports Beam: `cli.run` imports it only when the command runs.
"""

import argparse
import json
import logging
import os
import shlex
import sys
import threading
from concurrent import futures
from typing import Any, NoReturn, TextIO

from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.runner import PipelineResult

from octue_beam.asking import ask
from octue_beam.asking.session import close_listeners
from octue_beam.cli.arguments import load_json_argument
from octue_beam.cli.signals import sigterm_as_keyboard_interrupt
from octue_beam.emulators.local import LocalEmulators, local_emulators
from octue_beam.emulators.services import READY, LocalService
from octue_beam.messaging.pubsub import ensure_service_resources
from octue_beam.pipeline.building import ServicePlan, build_service_pipeline
from octue_beam.pipeline.runners import LOCAL_RUNNER, resolve_runner_name


def serve(args: argparse.Namespace) -> int:
    """Serve locally until interrupted (never returns: the process exits), or submit the pipeline and return 0."""
    if resolve_runner_name(args.runner) == LOCAL_RUNNER:
        return _serve_locally(args)
    return _submit(args)


def _pipeline_options(args: argparse.Namespace, project: str | None) -> PipelineOptions:
    """The command's own options in Beam's form, after the pipeline options it passed through."""
    argv = list(args.pipeline_args)
    argv += ["--service_dir", os.path.abspath(args.service_dir), "--runner", args.runner]
    if args.revision_tag:
        argv += ["--revision_tag", args.revision_tag]
    if project:
        argv += ["--project", project]
    return PipelineOptions(argv)


def _ensure_resources(plan: ServicePlan) -> None:
    """The services topic, this revision's subscription (filtered on its SRUID) and the dead-letter topic."""
    ensure_service_resources(plan.topic_path, plan.subscription_path, plan.sruid, plan.dead_letter_topic)


# --- on Dataflow ----------------------------------------------------------------------------------


def _submit(args: argparse.Namespace) -> int:
    """Build the graph and submit it (Dataflow); exit after `run()` as a Flex Template launcher must."""
    options = _pipeline_options(args, args.project)
    pipeline, plan = build_service_pipeline(options)
    dry_run = str(options.get_all_options().get("dry_run", "")).lower() in ("true", "1")
    if not dry_run:
        _ensure_resources(plan)
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


# --- locally --------------------------------------------------------------------------------------


def _serve_locally(args: argparse.Namespace) -> NoReturn:
    """Start what is needed locally, run the pipeline until interrupted, stop what was started, exit."""
    question = _question_to_ask(args)
    result = None
    code = 0
    with sigterm_as_keyboard_interrupt():
        try:
            with local_emulators(args.project) as local:
                options = _pipeline_options(args, args.project or local.project)
                pipeline, plan = build_service_pipeline(options)
                _ensure_resources(plan)
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
    _exit(code)


def _question_to_ask(args: argparse.Namespace) -> dict | None:
    """The `--ask` question's inputs, read before anything starts so that bad JSON fails fast."""
    if args.ask is None:
        if args.ask_manifest:
            raise ValueError("--ask-manifest needs --ask (the input values of the question).")
        return None
    return {
        "input_values": load_json_argument(args.ask, "--ask"),
        "input_manifest": load_json_argument(args.ask_manifest, "--ask-manifest"),
    }


def _start_companions(service_dirs: list[str], plan: ServicePlan) -> list[LocalService]:
    """Serve each of `service_dirs` in a subprocess on the same topic and emulators; wait until all are ready."""
    companions = [
        LocalService(service_dir, topic_name=plan.topic_name, environment={"GOOGLE_CLOUD_PROJECT": plan.project})
        for service_dir in service_dirs
    ]
    for companion, service_dir in zip(companions, service_dirs, strict=True):
        print(f"Starting {companion.sruid} from {service_dir} ...", file=sys.stderr, flush=True)
    try:
        with futures.ThreadPoolExecutor(max_workers=max(1, len(companions))) as pool:
            for started in [pool.submit(companion.start) for companion in companions]:
                started.result()
    except BaseException:
        _stop_companions(companions)
        raise
    return companions


def _stop_companions(companions: list[LocalService]) -> None:
    with futures.ThreadPoolExecutor(max_workers=max(1, len(companions))) as pool:
        list(pool.map(lambda companion: companion.stop(), companions))


def _wait(result: PipelineResult, plan: ServicePlan) -> int:
    """Serve until interrupted; 1 if the pipeline stops by itself (e.g. it lost the emulator)."""
    try:
        result.wait_until_finish()
    except KeyboardInterrupt:
        raise
    except Exception as error:  # noqa: BLE001 - reported, exit code 1
        print(f"The service pipeline of {plan.sruid} stopped: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    return 0


def _ask_once(plan: ServicePlan, question: dict, timeout: float) -> int:
    """Ask the service one question and print the answer (or the error) as JSON; 0 on a result, 1 otherwise."""
    print(f"Asking {plan.sruid}: {json.dumps(question['input_values'])}", file=sys.stderr, flush=True)
    try:
        answer, question_uuid = ask(
            plan.sruid,
            question["input_values"],
            question["input_manifest"],
            timeout=timeout,
            project=plan.project,
            topic_name=plan.topic_name,
            allow_local_files=True,
            subscribe_to_logs=False,
        )
    except Exception as error:  # noqa: BLE001 - reported as the command's one-paragraph error
        print(f"octue-beam run: the question failed: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
        return 1
    finally:
        close_listeners()  # delete the answer subscription before the emulators stop (exit skips atexit)
    manifest = answer.get("output_manifest")
    output = {
        "question_uuid": question_uuid,
        "output_values": answer.get("output_values"),
        "output_manifest": manifest.to_primitive() if hasattr(manifest, "to_primitive") else manifest,
    }
    print(json.dumps(output, indent=2), flush=True)
    return 0


def _cancel_quietly(result: PipelineResult) -> None:
    try:
        result.cancel()
    except Exception:  # noqa: BLE001 - the process is leaving anyway
        pass


def _exit(code: int) -> NoReturn:
    """Leave at once: the local runner's pull blocks for up to 30 s and question threads may still run, and
    everything started here has been stopped."""
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


# --- the ready message ----------------------------------------------------------------------------


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


def _print_ready(plan: ServicePlan, local: LocalEmulators, stream: TextIO | None = None) -> None:
    """Say what runs where and how to ask it (on stderr when stdout is for an `--ask` answer); the last line says
    `is ready`, which `LocalService` waits for."""
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
    print(f"Service {plan.sruid} {READY} (stop it with Ctrl-C).", flush=True, file=stream)
