"""Unit tests of the publishers, without Pub/Sub: OrderedBatchPublisher over a fake gapic client, UnorderedPublisher
over a fake library client, and MemoryPublisher."""

import json
import logging
import threading
import time
import uuid
from concurrent import futures

import pytest
from google.api_core import exceptions as api_exceptions

from octue_beam.messaging import events, publishing
from octue_beam.messaging.attributes import question_attributes, response_attributes
from octue_beam.messaging.parsing import MAX_MESSAGE_BYTES, parse_message
from octue_beam.messaging.publishing import (
    MemoryPublisher,
    MessageTooLarge,
    OrderedBatchPublisher,
    UnorderedPublisher,
    ordering_key,
    refused,
    wire_message,
)

PARENT = "local/local-test:local"
CHILD = "my-org/my-svc:1.2.0"


def response_to_new_question() -> dict:
    return response_attributes(question_attributes(sender=PARENT, recipient=CHILD, sender_sdk_version="0.1.0"), "0.1.0")


class Response:
    def __init__(self, message_ids: list[str]) -> None:
        self.message_ids = message_ids


class FakeGapicClient:
    """Records each publish request; `fail(messages)` may raise to fail a request. `gate`, when given, holds the
    first request until it is set (so that later messages queue up behind it)."""

    def __init__(self, fail=None, gate: threading.Event | None = None) -> None:
        self.requests: list[list] = []
        self.fail = fail
        self.gate = gate
        self.first_request_started = threading.Event()
        self._count = 0

    def publish(self, topic: str, messages: list, timeout: float, retry: object = None) -> Response:
        assert topic == "projects/proj/topics/events"
        if self.gate is not None and not self.first_request_started.is_set():
            self.first_request_started.set()
            assert self.gate.wait(10)
        if self.fail is not None:
            self.fail(messages)
        self.requests.append(list(messages))
        ids = []
        for _ in messages:
            self._count += 1
            ids.append(f"id-{self._count}")
        return Response(ids)


def publisher(client: FakeGapicClient) -> OrderedBatchPublisher:
    return OrderedBatchPublisher("proj", "events", client=client, publish_timeout=10)


def test_order_is_kept_across_the_events_of_several_questions_sent_in_few_requests():
    gate = threading.Event()
    client = FakeGapicClient(gate=gate)
    events_publisher = publisher(client)
    questions = [response_to_new_question() for _ in range(3)]
    sent = []
    first = events_publisher.publish(events.delivery_acknowledgement(), questions[0])
    assert client.first_request_started.wait(10)
    for n in range(12):  # queued behind the first request, which is held
        attributes = questions[n % 3]
        sent.append((ordering_key(attributes["question_uuid"]), n))
        sent_future = events_publisher.publish(events.monitor_message({"n": n}), attributes)
    gate.set()
    assert first.result(timeout=10) == "id-1"
    assert sent_future.result(timeout=10) == "id-13"
    events_publisher.close()

    assert len(client.requests) == 2  # the held one, then everything queued meanwhile in one request
    messages = [message for request in client.requests for message in request][1:]
    received = [(message.ordering_key, json.loads(message.data)["data"]["n"]) for message in messages]
    assert received == sent
    for message in messages:
        _, attributes = parse_message(message.data, dict(message.attributes))
        assert ordering_key(attributes["question_uuid"]) == message.ordering_key


def test_a_message_pubsub_refuses_fails_only_itself():
    def refuse_the_big_one(messages):
        if any(message.data == b"too big" for message in messages):
            raise api_exceptions.InvalidArgument("Request payload size exceeds the limit")

    gate = threading.Event()
    client = FakeGapicClient(fail=refuse_the_big_one, gate=gate)
    events_publisher = publisher(client)
    events_publisher.publish_raw(b"first", {"n": "0"}, ordering_key="q")
    assert client.first_request_started.wait(10)
    before = events_publisher.publish_raw(b"before", {"n": "1"}, ordering_key="q")
    big = events_publisher.publish_raw(b"too big", {"n": "2"}, ordering_key="q")
    after = events_publisher.publish_raw(b"after", {"n": "3"}, ordering_key="q")
    gate.set()

    assert before.result(timeout=10)
    assert after.result(timeout=10)
    with pytest.raises(api_exceptions.InvalidArgument):
        big.result(timeout=10)
    events_publisher.close()
    sent = [message.data for request in client.requests for message in request]
    assert sent == [b"first", b"before", b"after"]


def test_transient_errors_are_retried_in_order(monkeypatch, caplog):
    monkeypatch.setattr(publishing, "RETRY_DELAYS", (0.01, 0.01, 0.01, 0.01))
    failures = [api_exceptions.ServiceUnavailable("try again"), api_exceptions.DeadlineExceeded("slow")]

    def fail_twice(messages):
        if failures:
            raise failures.pop(0)

    client = FakeGapicClient(fail=fail_twice)
    events_publisher = publisher(client)
    with caplog.at_level(logging.WARNING, logger=publishing.__name__):
        future = events_publisher.publish_raw(b"event", {}, ordering_key="q", wait=True)
    assert future.result() == "id-1"
    assert [[message.data for message in request] for request in client.requests] == [[b"event"]]
    assert len([record for record in caplog.records if "retrying" in record.getMessage()]) == 2
    events_publisher.close()


def test_an_error_that_outlasts_the_retries_fails_the_request(monkeypatch):
    monkeypatch.setattr(publishing, "RETRY_DELAYS", (0.01,))

    def always_fail(messages):
        raise api_exceptions.ServiceUnavailable("down")

    events_publisher = publisher(FakeGapicClient(fail=always_fail))
    with pytest.raises(api_exceptions.ServiceUnavailable):
        events_publisher.publish_raw(b"event", {}, ordering_key="q", wait=True)
    events_publisher.close()


def test_close_sends_what_is_queued_and_refuses_more():
    gate = threading.Event()
    client = FakeGapicClient(gate=gate)
    events_publisher = publisher(client)
    queued = [events_publisher.publish_raw(f"event {n}".encode(), {}, ordering_key="q") for n in range(5)]
    assert client.first_request_started.wait(10)
    threading.Timer(0.2, gate.set).start()
    events_publisher.close()
    assert all(future.done() for future in queued)
    assert [future.result() for future in queued] == [f"id-{n}" for n in range(1, 6)]
    with pytest.raises(RuntimeError, match="closed"):
        events_publisher.publish_raw(b"late", {})


def test_unordered_publisher_publishes_through_the_library_client_without_ordering_keys():
    class LibraryClient:
        def __init__(self) -> None:
            self.published: list[tuple] = []
            self.stopped = False

        def publish(self, topic: str, data: bytes, **attributes: str) -> futures.Future:
            self.published.append((topic, data, attributes))
            future: futures.Future = futures.Future()
            future.set_result("id-1")
            return future

        def stop(self) -> None:
            self.stopped = True

    client = LibraryClient()
    questions = UnorderedPublisher("proj", "events", client=client)
    attributes = question_attributes(sender=PARENT, recipient=CHILD, sender_sdk_version="0.1.0")
    assert questions.publish(events.question(input_values={"n": 1}), attributes, wait=True).result() == "id-1"
    [(topic, data, wire_attributes)] = client.published
    assert topic == "projects/proj/topics/events"
    event, typed = parse_message(data, wire_attributes)
    assert event == {"kind": "question", "input_values": {"n": 1}}
    assert typed["question_uuid"] == attributes["question_uuid"]
    with pytest.raises(ValueError, match="OrderedBatchPublisher"):
        questions.publish_raw(b"x", {}, ordering_key="q")
    questions.close()
    assert client.stopped


def test_wire_message_gives_each_event_a_new_uuid_and_string_attributes():
    attributes = response_to_new_question()
    first_data, first = wire_message(events.heartbeat(), attributes)
    _, second = wire_message(events.heartbeat(), attributes)
    assert json.loads(first_data) == {"kind": "heartbeat"}
    assert first["uuid"] != second["uuid"]
    assert all(isinstance(value, str) for value in first.values())
    assert first["question_uuid"] == attributes["question_uuid"]


def test_memory_publisher_keeps_messages_in_order():
    memory = MemoryPublisher()
    attributes = response_to_new_question()
    memory.publish(events.delivery_acknowledgement(), attributes)
    memory.publish(events.result(output_values={"labels": {"a"}}), attributes, wait=True)
    assert [event["kind"] for event, _ in memory.events()] == ["delivery_acknowledgement", "result"]
    assert memory.events()[1][0]["output_values"] == {"labels": {"a"}}
    assert memory.events()[1][1]["question_uuid"] == attributes["question_uuid"]
    memory.publish_raw(b"raw", {"recipient": "x"})
    assert memory.messages[2] == (b"raw", {"recipient": "x"})
    memory.close()
    assert memory.closed


def test_memory_publisher_can_fail_every_publish():
    memory = MemoryPublisher(fail_with=api_exceptions.NotFound("no topic"))
    future = memory.publish(events.heartbeat(), response_to_new_question())
    assert isinstance(future.exception(), api_exceptions.NotFound)
    with pytest.raises(api_exceptions.NotFound):
        memory.publish_raw(b"x", {}, wait=True)
    assert memory.messages == []


def big_result(size: int) -> dict:
    return events.result(output_values={"value": "x" * size})


def test_an_event_over_pubsubs_limit_fails_at_once_saying_to_use_a_manifest_and_never_reaches_pubsub():
    client = FakeGapicClient()
    events_publisher = publisher(client)
    attributes = response_to_new_question()
    too_big = events_publisher.publish(big_result(MAX_MESSAGE_BYTES), attributes)
    assert too_big.done()  # failed at once: nothing queued behind a request Pub/Sub would never answer
    error = too_big.exception()
    assert isinstance(error, MessageTooLarge) and refused(error)
    assert f"limit of {MAX_MESSAGE_BYTES} bytes" in str(error)
    assert "output manifest" in str(error) and attributes["question_uuid"] in str(error)
    with pytest.raises(MessageTooLarge):
        events_publisher.publish_raw(b"x" * (MAX_MESSAGE_BYTES + 1), {}, ordering_key="q", wait=True)
    assert events_publisher.publish(events.heartbeat(), attributes, wait=True).result() == "id-1"
    fits = events_publisher.publish(big_result(MAX_MESSAGE_BYTES - 2000), attributes, wait=True)
    assert fits.result() == "id-2"
    events_publisher.close()
    assert [len(request) for request in client.requests] == [1, 1]


def test_a_question_over_pubsubs_limit_fails_at_once_saying_to_use_an_input_manifest():
    class LibraryClient:
        published = 0

        def publish(self, topic: str, data: bytes, **attributes: str) -> futures.Future:
            self.published += 1
            raise AssertionError("a message over the limit must not be published")

        def stop(self) -> None:
            pass

    client = LibraryClient()
    questions = UnorderedPublisher("proj", "events", client=client)
    attributes = question_attributes(sender=PARENT, recipient=CHILD, sender_sdk_version="0.1.0")
    future = questions.publish(events.question(input_values={"v": "x" * MAX_MESSAGE_BYTES}), attributes)
    assert isinstance(future.exception(timeout=0), MessageTooLarge)
    assert "input manifest" in str(future.exception())
    with pytest.raises(MessageTooLarge):
        questions.publish_raw(b"x" * (MAX_MESSAGE_BYTES + 1), {}, wait=True)
    assert client.published == 0
    questions.close()


def test_the_memory_publisher_refuses_what_pubsub_would():
    memory = MemoryPublisher(max_message_bytes=1000)
    future = memory.publish(big_result(2000), response_to_new_question())
    assert isinstance(future.exception(timeout=0), MessageTooLarge)
    assert memory.messages == []


def test_a_request_that_keeps_failing_fails_only_its_own_events_within_a_bounded_time(monkeypatch):
    monkeypatch.setattr(publishing, "RETRY_DELAYS", (0.01,) * 50)
    calls: list[dict] = []

    class SlowPubSub(FakeGapicClient):
        def publish(self, topic: str, messages: list, timeout: float, retry: object = "library default") -> Response:
            calls.append({"timeout": timeout, "retry": retry})
            return super().publish(topic, messages, timeout)

    def time_out_the_stuck_one(messages):
        if any(message.data == b"stuck" for message in messages):
            raise api_exceptions.DeadlineExceeded("504 Deadline Exceeded")

    client = SlowPubSub(fail=time_out_the_stuck_one)
    events_publisher = OrderedBatchPublisher("proj", "events", client=client, publish_timeout=5, retry_seconds=0.2)
    stuck = events_publisher.publish_raw(b"stuck", {}, ordering_key="a")
    while not calls:  # the stuck request is being sent: the next event queues behind it
        time.sleep(0.001)
    after = events_publisher.publish_raw(b"after", {}, ordering_key="b")
    assert after.result(timeout=10) == "id-1"
    assert isinstance(stuck.exception(timeout=0), api_exceptions.DeadlineExceeded)
    assert not refused(stuck.exception())  # it may have arrived: not to be replaced by another final event
    assert 2 < len(calls) < 50  # retried with backoff, for at most retry_seconds
    assert {call["retry"] for call in calls} == {None}  # no hidden library retries (600 s by default)
    assert {call["timeout"] for call in calls} == {5}
    events_publisher.close()


def test_a_services_events_use_a_bounded_set_of_ordering_keys_one_per_question():
    uuids = [str(uuid.uuid4()) for _ in range(2000)]
    keys = {ordering_key(question_uuid) for question_uuid in uuids}
    assert len(keys) <= publishing.ORDERING_KEYS
    assert all(ordering_key(question_uuid) == ordering_key(question_uuid) for question_uuid in uuids[:50])
    assert ordering_key("") == ""
    assert ordering_key(uuids[0], keys=1) == "octue-beam.00"


def test_refusals_are_told_from_failures_after_which_a_message_may_have_arrived():
    for error in (MessageTooLarge("big"), TypeError("not serialisable"), api_exceptions.InvalidArgument("bad")):
        assert refused(error)
    for error in (TimeoutError(), api_exceptions.DeadlineExceeded("slow"), api_exceptions.ServiceUnavailable("down")):
        assert not refused(error)


def test_the_question_publisher_retries_transient_errors_with_backoff_within_its_publish_timeout():
    questions = UnorderedPublisher("proj", "events", publish_timeout=45, emulator_host="localhost:1")
    options = questions._client.publisher_options
    for transient in (api_exceptions.DeadlineExceeded("slow"), api_exceptions.ServiceUnavailable("restarting")):
        assert options.retry._predicate(transient)
    assert not options.retry._predicate(api_exceptions.NotFound("no topic"))
    assert options.retry._timeout == 45  # not the library's 600 s
    assert options.timeout <= 45
    questions.close()
