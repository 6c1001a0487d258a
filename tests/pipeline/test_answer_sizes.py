"""No answer blocks another: answers around and over Pub/Sub's 10 MB message limit, from a served service.

Issue 11 measured: an answer of 4.5-9.5 MB vanished (the parent saw only a heartbeat timeout) and every later pull of
the service failed (`Received message larger than max (9501761 vs. 4194304)`: the emulator ignores filters, so the
service's own subscription receives its answers too); an answer of 11 or 50 MB stopped all publishing for 21+ minutes
(the emulator never replies to a request that big, and the one publisher thread retried it). Now the 6 MB answer
arrives and the service keeps reading; an answer over the limit becomes ONE exception naming the limit and saying to
use an output manifest, at once; and a normal question is answered right after each.
"""

import pytest

from octue_beam.messaging.parsing import MAX_MESSAGE_BYTES
from tests.support.serving import behaviours_service

ASK = {"timeout": 90, "delivery_acknowledgement_timeout": 60, "maximum_heartbeat_interval": 30, "max_retries": 0}


@pytest.fixture(scope="module")
def service(pubsub_emulator):
    with behaviours_service("--heartbeat_interval", "1") as process:
        yield process


def assert_a_normal_question_is_answered(service):
    answer, _ = service.ask({"action": "echo", "value": "after"}, **ASK)
    assert answer["output_values"] == {"action": "echo", "value": "after"}


def test_an_answer_of_6_mb_reaches_the_parent_and_the_service_keeps_reading(service):
    answer, _ = service.ask({"action": "big", "bytes": 6_000_000}, **ASK)
    assert answer["output_values"]["action"] == "big"
    assert len(answer["output_values"]["value"]) == 6_000_000
    assert_a_normal_question_is_answered(service)
    # The service's own subscription received that answer too (the emulator ignores filters): its pulls must not fail
    # (with gRPC's default 4 MiB receive limit, every pull returning it failed, losing what else it carried).
    assert "larger than max" not in service.log()


@pytest.mark.parametrize("size", [11_000_000, 50_000_000])
def test_an_answer_over_the_limit_is_one_exception_saying_to_use_an_output_manifest(service, size):
    received = []
    error, _ = service.ask({"action": "big", "bytes": size}, raise_errors=False, record_events=received, **ASK)
    assert isinstance(error, Exception)
    assert type(error).__name__ == "MessageTooLarge", error
    assert f"limit of {MAX_MESSAGE_BYTES} bytes" in str(error)
    assert "output manifest" in str(error)
    finals = [event["event"]["kind"] for event in received if event["event"]["kind"] in ("result", "exception")]
    assert finals == ["exception"]
    assert_a_normal_question_is_answered(service)
