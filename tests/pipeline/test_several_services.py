"""A repository whose octue.yaml lists several services: the pipeline serves the one `--service_name` names."""

import types

import yaml
from apache_beam.options.pipeline_options import PipelineOptions

from octue_beam.messaging.publishing import MemoryPublisher
from octue_beam.pipeline.building import plan_service
from octue_beam.pipeline.worker import ServiceWorker

APP = "def run(analysis):\n    analysis.output_values = {'from': %r}\n"
TWINE = '{"output_values_schema": {"type": "object"}}'


def write_two_services(folder):
    services = []
    for name in ("first", "second"):
        (folder / name).mkdir()
        (folder / name / "app.py").write_text(APP % name)
        (folder / name / "twine.json").write_text(TWINE)
        services.append(
            {"namespace": "my-org", "name": name, "app_source_path": name, "twine_path": f"{name}/twine.json"}
        )
    (folder / "octue.yaml").write_text(yaml.safe_dump({"services": services}))
    return folder


def test_the_plan_and_worker_serve_the_named_service(tmp_path, monkeypatch):
    monkeypatch.delenv("OCTUE_SERVICE_NAME", raising=False)
    folder = write_two_services(tmp_path)
    options = PipelineOptions(["--service_dir", str(folder), "--service_name", "second", "--streaming"])
    plan = plan_service(options)
    assert plan.sruid == "my-org/second:local"
    assert plan.worker.service_name == "second"
    worker = ServiceWorker(plan.worker, lambda topic: MemoryPublisher())
    try:
        assert worker.answerer.service.sruid == "my-org/second:local"
        analysis = types.SimpleNamespace(output_values=None)
        worker.answerer.service.app(analysis)  # the second service's app, not the first's
        assert analysis.output_values == {"from": "second"}
    finally:
        worker.close()
