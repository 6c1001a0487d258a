"""A question nobody can receive fails at once with an error naming the project, the topic and the service, instead
of waiting out its timeout in silence (octue_beam.asking.delivery; on the real Pub/Sub emulator)."""

import uuid

import pytest

from octue_beam.asking import ask
from octue_beam.asking.delivery import DELIVERY_CHECK_SECONDS, admits
from octue_beam.exceptions import QuestionTimeout, ServiceNotFound
from octue_beam.messaging import pubsub

PROJECT = "octue-beam-test"
NOBODY = "some-org/nobody-serves-this:1.0.0"


@pytest.fixture
def topic_name(pubsub_emulator):
    name = f"delivery.{uuid.uuid4().hex[:8]}.services"
    pubsub.ensure_topic(PROJECT, name)
    yield name
    pubsub.delete_topic(PROJECT, name)


def test_a_question_to_a_topic_with_no_subscription_names_the_project_and_topic(topic_name):
    with pytest.raises(ServiceNotFound) as raised:  # before the 60 s timeout: a QuestionTimeout without the check
        ask(NOBODY, {"n": 1}, project=PROJECT, topic_name=topic_name, timeout=60)
    message = str(raised.value)
    assert f"projects/{PROJECT}/topics/{topic_name}" in message
    assert f"project {PROJECT!r}" in message and NOBODY in message
    assert "the topic has no subscription for questions" in message


def test_subscriptions_for_other_services_do_not_count(topic_name):
    other = "some-org/another-service:1.0.0"
    name = pubsub.service_subscription_name(other) + f".{uuid.uuid4().hex[:6]}"
    pubsub.ensure_subscription(PROJECT, name, topic_name, filter=pubsub.service_subscription_filter(other))
    try:
        expected = "its 1 subscription for questions filter on other recipients"
        with pytest.raises(ServiceNotFound, match=expected) as raised:
            ask(NOBODY, {"n": 1}, project=PROJECT, topic_name=topic_name, timeout=60)
        assert f"projects/{PROJECT}/topics/{topic_name}" in str(raised.value)
    finally:
        pubsub.delete_subscription(PROJECT, name)


def test_a_service_subscribed_but_not_answering_still_times_out_as_before(topic_name):
    """The subscription exists (a service that is down or starting): the question waits as it always did."""
    name = pubsub.service_subscription_name(NOBODY) + f".{uuid.uuid4().hex[:6]}"
    pubsub.ensure_subscription(PROJECT, name, topic_name, filter=pubsub.service_subscription_filter(NOBODY))
    try:
        with pytest.raises(QuestionTimeout, match="within the timeout"):
            ask(NOBODY, {"n": 1}, project=PROJECT, topic_name=topic_name, timeout=DELIVERY_CHECK_SECONDS / 2)
    finally:
        pubsub.delete_subscription(PROJECT, name)


def test_filters_are_read_as_pub_sub_applies_them():
    question = {"recipient": "a/b:1", "sender_type": "PARENT"}
    assert admits(pubsub.service_subscription_filter("a/b:1"), question)
    assert not admits(pubsub.service_subscription_filter("a/c:1"), question)
    assert not admits(pubsub.answer_subscription_filter("a/b:1"), question)  # CHILD events only
    assert admits("", question)
    # Filters beyond a conjunction of equalities may deliver: never reported as undeliverable.
    assert admits('attributes.recipient = "x" OR attributes.sender_type = "PARENT"', question)
    assert admits('hasPrefix(attributes.recipient, "a/")', question)
    assert admits('attributes.recipient = "quo\\"ted"', {"recipient": 'quo"ted'})
