"""Reading a BigQuery event store, against a stand-in for the Google API (the BigQuery client's real REST calls,
`client_options={"api_endpoint": ...}`, anonymous credentials): every value travels as a query parameter, never in
the query text, and the rows come back as the local store's do."""

import json
import re

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from octue_beam.cli import main
from octue_beam.events.bigquery import parse_table_id
from octue_beam.events.rows import BIGQUERY_SCHEMA, COLUMNS
from octue_beam.events.store import read_events
from tests.events.wire_events import answered_tree
from tests.support.google_api import GoogleApiStandIn

PROJECT = "my-project"
QUERIES = rf"/bigquery/v2/projects/{PROJECT}/queries"
ROOT = "11111111-2222-4333-8444-555555555555"


def query_response(stored_rows):
    """A jobs.query response holding `stored_rows`, as BigQuery encodes them (TIMESTAMP as microseconds)."""
    def cell(column, value):
        if value is None:
            return {"v": None}
        if column == "datetime":
            return {"v": str(int(value.timestamp() * 1_000_000))}
        return {"v": value}

    return {
        "kind": "bigquery#queryResponse",
        "schema": {"fields": BIGQUERY_SCHEMA},
        "jobReference": {"projectId": PROJECT, "jobId": "job-1", "location": "EU"},
        "totalRows": str(len(stored_rows)),
        "rows": [{"f": [cell(column, row[column]) for column in COLUMNS]} for row in stored_rows],
        "jobComplete": True,
    }


class BigQueryStandIn:
    """One stand-in for the Google API per module (stopping one takes half a second) answering jobs.query with
    whatever the test sets; `requests_to` and `requests` are those of the current test."""

    def __init__(self, standin: GoogleApiStandIn) -> None:
        self.standin = standin
        self.endpoint = standin.endpoint
        self.response = query_response([])
        standin.route("POST", QUERIES, lambda request: self.response)

    def route(self, method, path, response):
        assert (method, path) == ("POST", QUERIES)
        self.response = response

    @property
    def requests(self):
        return self.standin.requests

    def requests_to(self, method, path):
        return self.standin.requests_to(method, path)


@pytest.fixture(scope="module")
def google_api():
    with GoogleApiStandIn() as standin:
        yield BigQueryStandIn(standin)


@pytest.fixture
def standin(google_api):
    google_api.standin.requests.clear()
    google_api.response = query_response([])
    return google_api


def client_for(standin):
    return bigquery.Client(
        project=PROJECT, credentials=AnonymousCredentials(), client_options={"api_endpoint": standin.endpoint}
    )


def parameters_of(request):
    """`{name: value}` of the query parameters sent (arrays as lists)."""
    found = {}
    for parameter in request.json.get("queryParameters", []):
        value = parameter["parameterValue"]
        if "arrayValues" in value:
            found[parameter["name"]] = [item["value"] for item in value["arrayValues"]]
        else:
            found[parameter["name"]] = value["value"]
    return found


def test_a_tree_is_read_with_parameters_only_and_comes_back_as_rows(standin):
    tree, root, _ = answered_tree()
    results = [row for row in tree.stored if row["kind"] == "result"]
    standin.route("POST", QUERIES, query_response(results))

    rows = read_events(
        "bigquery:my-project.octue_twined.service-events",
        originator_question_uuid=root["question_uuid"],
        kinds=["result"],
        since="2025-03-04",
        limit=50,
        client=client_for(standin),
    )

    (request,) = standin.requests_to("POST", QUERIES)
    query = request.json["query"]
    assert "FROM `my-project.octue_twined.service-events`" in query
    assert "`originator_question_uuid` = @originator_question_uuid" in query
    assert "`kind` IN UNNEST(@kinds)" in query and "`datetime` >= @since" in query and "LIMIT @limit" in query
    assert "ORDER BY `datetime` DESC" in query  # the newest 50 ...
    assert query.rstrip().endswith("ORDER BY `datetime` ASC")  # ... returned oldest first
    for value in (root["question_uuid"], "result", "2025", "50"):
        assert value not in query  # no value is written into the SQL
    assert request.json["useLegacySql"] is False
    assert parameters_of(request) == {
        "originator_question_uuid": root["question_uuid"],
        "kinds": ["result"],
        "since": "2025-03-04 00:00:00+00:00",
        "limit": "50",
    }
    assert [row["uuid"] for row in rows] == [row["uuid"] for row in results]
    tags = {"_type": "set", "items": ["a"]}
    assert rows[-1]["event"] == {"kind": "result", "output_values": {"sum": 5, "tags": tags}}
    assert rows[-1]["datetime"] == results[-1]["datetime"]
    assert rows[-1]["other_attributes"] == {"retry_count": "0"}


@pytest.mark.parametrize(
    "filters, conditions, parameters",
    [
        ({"question_uuid": ROOT}, ["`question_uuid` = @question_uuid"], {"question_uuid": ROOT}),
        ({"parent_question_uuid": ROOT}, ["`parent_question_uuid` = @parent_question_uuid"],
         {"parent_question_uuid": ROOT}),
        ({"exclude_kinds": ["heartbeat", "log_record"]}, ["`kind` NOT IN UNNEST(@exclude_kinds)"],
         {"exclude_kinds": ["heartbeat", "log_record"]}),
        ({}, [], {}),
    ],
    ids=["question", "parent", "exclude-kinds", "everything"],
)
def test_each_selector_is_one_parameterised_condition(standin, filters, conditions, parameters):
    standin.route("POST", QUERIES, query_response([]))
    assert read_events("bigquery:octue_twined.service-events", client=client_for(standin), **filters) == []
    (request,) = standin.requests_to("POST", QUERIES)
    query = request.json["query"]
    assert "FROM `my-project.octue_twined.service-events`" in query  # DATASET.TABLE: in the client's project
    where = re.findall(r"(?:WHERE|AND) (.+)", query)
    assert where == conditions
    assert parameters_of(request) == parameters
    assert "LIMIT" not in query


def test_the_oldest_rows_are_asked_for_without_tail(standin):
    standin.route("POST", QUERIES, query_response([]))
    read_events("bigquery:my-project.events.service-events", limit=3, tail=False, client=client_for(standin))
    query = standin.requests_to("POST", QUERIES)[0].json["query"]
    assert query.endswith("ORDER BY `datetime` ASC\nLIMIT @limit") and "DESC" not in query


@pytest.mark.parametrize("table_id", ["events", "dataset.table; DROP TABLE t", "p.d.t`", "a.b.c.d", "my-project.d"])
def test_a_table_id_that_is_not_one_is_refused_before_any_query(standin, table_id):
    with pytest.raises(ValueError, match="is not a BigQuery table id"):
        read_events(f"bigquery:{table_id}", client=client_for(standin))
    assert standin.requests == []


def test_table_ids_with_and_without_a_project():
    assert parse_table_id("my-project.octue_twined.service-events") == ("my-project", "octue_twined", "service-events")
    assert parse_table_id("my-project:octue_twined.service-events")[0] == "my-project"
    assert parse_table_id("octue_twined.service-events") == (None, "octue_twined", "service-events")


def test_events_get_reads_a_table_through_the_stand_in(standin, monkeypatch, capsys):
    """The command builds its own anonymous client for $OCTUE_BEAM_BIGQUERY_ENDPOINT and prints JSON lines."""
    tree, root, _ = answered_tree()
    rows = [row for row in tree.stored if row["question_uuid"] == root["question_uuid"]]
    standin.route("POST", QUERIES, query_response(rows))
    monkeypatch.setenv("OCTUE_BEAM_BIGQUERY_ENDPOINT", standin.endpoint)
    code = main(["events", "get", "--question-uuid", root["question_uuid"], "--table",
                 "my-project.octue_twined.service-events", "--kinds", "question,result", "--limit", "5"])
    assert code == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["uuid"] for line in printed] == [row["uuid"] for row in rows]
    request = standin.requests_to("POST", QUERIES)[0]
    assert parameters_of(request) == {"question_uuid": root["question_uuid"], "kinds": ["question", "result"],
                                      "limit": "5"}


def test_events_get_reports_a_bigquery_error_in_one_line(standin, monkeypatch, capsys):
    standin.route("POST", QUERIES, (404, {"error": {"code": 404, "message": "Not found: Table my-project:d.t",
                                                    "status": "NOT_FOUND"}}))
    monkeypatch.setenv("OCTUE_BEAM_BIGQUERY_ENDPOINT", standin.endpoint)
    assert main(["events", "get", "--table", "my-project.d.t"]) == 1
    error = capsys.readouterr().err
    assert "octue-beam events: reading bigquery:my-project.d.t failed: NotFound: " in error
    assert "Not found: Table my-project:d.t" in error and "Traceback" not in error
