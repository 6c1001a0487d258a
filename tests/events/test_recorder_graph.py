"""The event recorder's BigQuery path builds in the Dataflow graph offline (`--runner DataflowRunner --dry_run True
--no_auth`), through `record-events` itself, with the table from `--table` or octue.yaml's `event_store_table_id`;
and the recorder's options are checked before anything is built."""


import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.portability.api import beam_runner_api_pb2

from octue_beam.cli import main
from octue_beam.events.recording import build_recorder_pipeline
from octue_beam.pipeline.runners import select_runner

DATAFLOW_DRY_RUN = [
    "--runner", "DataflowRunner", "--dry_run", "True", "--no_auth", "--project", "my-project",
    "--region", "europe-west1", "--temp_location", "gs://valid-bucket-name/tmp",
]


def built(*arguments):
    options = PipelineOptions([*DATAFLOW_DRY_RUN, *arguments])
    select_runner(options)
    pipeline, plan, _ = build_recorder_pipeline(options)
    return pipeline.run(), plan


def transforms_of(result):
    return {transform.unique_name: transform for transform in result.job.proto_pipeline.components.transforms.values()}


def display_data(transform) -> dict[str, str]:
    """`{label: value}` of a transform's display data in the graph."""
    shown = {}
    for item in transform.display_data:
        labelled = beam_runner_api_pb2.LabelledPayload.FromString(item.payload)
        shown[labelled.label] = labelled.string_value or str(labelled.bool_value)
    return shown


def test_the_bigquery_recorder_builds_in_the_dataflow_graph():
    result, plan = built("--event_table", "octue_twined.service-events", "--event_topic", "main.octue.twined.services")
    names = transforms_of(result)
    for stage in ("RecordEvents/ReadEvents", "RecordEvents/ToRows", "RecordEvents/LogUnrecordable",
                  "RecordEvents/WriteRows/AsBigQueryRows", "RecordEvents/WriteRows/InsertRows",
                  "RecordEvents/WriteRows/LogRefusedRows"):
        assert stage in names, sorted(names)
    assert not [name for name in names if "WindowFiles" in name or "FixedWindows" in name]
    assert plan.destination == "bigquery:octue_twined.service-events"
    assert display_data(names["RecordEvents/WriteRows/InsertRows"])["Table"] == "my-project:octue_twined.service-events"
    inserts = display_data(names["RecordEvents/WriteRows/InsertRows/_StreamToBigQuery/StreamInsertRows/ParDo("
                                 "BigQueryWriteFn)"])
    assert inserts["create_disposition"] == "CREATE_IF_NEEDED" and inserts["write_disposition"] == "WRITE_APPEND"
    assert inserts["retry_strategy"] == "RETRY_ON_TRANSIENT_ERROR"  # a refused row is logged, not retried for ever
    assert "'timePartitioning': {'type': 'DAY', 'field': 'datetime'}" in inserts["additional_bq_parameters"]


def test_the_recorder_reads_its_own_subscription_with_attributes_dropping_redeliveries_by_uuid():
    result, plan = built("--event_table", "my-project.events.all", "--event_subscription", "my-recorder")
    read = transforms_of(result)["RecordEvents/ReadEvents/Read"]
    payload = beam_runner_api_pb2.PubSubReadPayload.FromString(read.spec.payload)
    assert payload.subscription == plan.subscription_path == "projects/my-project/subscriptions/my-recorder"
    assert payload.with_attributes and payload.id_attribute == "uuid"
    assert plan.topic_path == "projects/my-project/topics/main.octue.twined.services"


def test_record_events_builds_the_dataflow_recorder_from_the_command_line(capsys):
    code = main(["record-events", "--table", "my-project.octue_twined.service-events", *DATAFLOW_DRY_RUN])
    assert code == 0
    out = capsys.readouterr().out
    assert "Event recorder: pipeline built (dry run) on DataflowRunner." in out
    assert "writes bigquery:my-project.octue_twined.service-events" in out


def test_on_dataflow_the_table_comes_from_octue_yaml_when_not_given(tmp_path, capsys):
    (tmp_path / "octue.yaml").write_text(
        "services:\n  - namespace: my-org\n    name: my-service\n"
        "    event_store_table_id: octue_twined.service-events\n"
    )
    assert main(["record-events", "--service-dir", str(tmp_path), *DATAFLOW_DRY_RUN]) == 0
    assert "writes bigquery:octue_twined.service-events" in capsys.readouterr().out


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--runner", "DataflowRunner", "--store", "here"], "--store is a local folder, which Dataflow's workers"),
        (["--runner", "DataflowRunner", "--service-dir", "/nonexistent"], "event_store_table_id"),
        (["--window-seconds", "0"], "--window-seconds must be more than 0"),
        (["--table", "not a table", *DATAFLOW_DRY_RUN], "is not a BigQuery table id"),
        (["--table", "d.t", *DATAFLOW_DRY_RUN, "--heartbeat_intervall", "3"], "unknown option --heartbeat_intervall"),
    ],
)
def test_bad_recorder_arguments_are_one_line_errors(arguments, message, capsys):
    assert main(["record-events", *arguments]) == 1
    assert message in capsys.readouterr().err
