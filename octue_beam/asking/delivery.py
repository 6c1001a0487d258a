"""Telling a question that nobody can receive from a slow one: is there a subscription that delivers it?

Pub/Sub delivers a message only to the subscriptions of its topic that existed when it was published and whose
filter admits it; a question published where no subscription admits it is lost, and its parent would wait out its
whole timeout in silence (a local tree whose parent asks its children in another project than the one they are
served in did exactly that). So when an attempt has heard nothing for `DELIVERY_CHECK_SECONDS` (or reaches its
deadline first), the waiter asks Pub/Sub once: `undeliverable(question)` lists the topic's subscriptions and returns
a `ServiceNotFound` naming the project, the topic and the service when none of them can deliver the question (no
subscription now means none when it was published). It answers None (keep waiting) whenever it cannot tell: a
subscription whose filter it does not understand may deliver, and no permission to list subscriptions, an
unreachable Pub/Sub or too many subscriptions to look at all end the check quietly.

Filters are read as Pub/Sub writes them: a conjunction of `attributes.KEY = "VALUE"` (the form of every
octue_beam and Octue subscription); the emulator does not apply filters, but the services behind it drop what is
not addressed to them, so the same reading holds there.
"""

import logging
import re

from google.api_core import exceptions as api_exceptions

from octue_beam.asking.questions import Question
from octue_beam.exceptions import ServiceNotFound
from octue_beam.messaging import pubsub
from octue_beam.messaging.attributes import encode_attributes
from octue_beam.messaging.sruid import to_pub_sub_form

logger = logging.getLogger(__name__)

#: Seconds an attempt may go without any event before the asker checks that some subscription delivers it.
DELIVERY_CHECK_SECONDS = 10.0
#: Timeout of each request of the check.
REQUEST_TIMEOUT = 10.0
#: At most this many subscriptions' filters are read; past it the check gives up (it cannot tell).
MAX_SUBSCRIPTIONS_READ = 50

_CLAUSE = re.compile(r'\s*attributes\.([A-Za-z0-9_.-]+)\s*=\s*"((?:[^"\\]|\\.)*)"\s*')


def admits(filter_text: str, attributes: dict[str, str]) -> bool:
    """Whether a subscription with this filter may receive a message with these (wire) attributes: False only for a
    conjunction of `attributes.KEY = "VALUE"` clauses that the attributes do not all satisfy."""
    if not filter_text.strip():
        return True
    clauses = filter_text.split(" AND ")
    parsed = [_CLAUSE.fullmatch(clause) for clause in clauses]
    if not all(parsed):
        return True  # a filter this reading does not cover (OR, NOT, hasPrefix...): it may deliver
    return all(attributes.get(match.group(1)) == _unescape(match.group(2)) for match in parsed)


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


def undeliverable(question: Question) -> ServiceNotFound | None:
    """The error to end the question's current attempt with when no subscription of its topic can deliver it (see
    the module docstring); None when one may, or when Pub/Sub cannot tell."""
    topic = pubsub.topic_path(question.project, question.topic_name)
    host = question.emulator_host
    try:
        names = list(pubsub.publisher_client(host).list_topic_subscriptions(
            request={"topic": topic}, timeout=REQUEST_TIMEOUT
        ))
    except api_exceptions.NotFound:
        return ServiceNotFound(
            f"The services topic {topic!r} does not exist, so {question.service_id} cannot have received the "
            f"question. Check the project ({question.project!r}) and TWINED_SERVICES_TOPIC_NAME."
        )
    except Exception as error:  # noqa: BLE001 - no permission, Pub/Sub unreachable...: cannot tell
        logger.debug("Could not list the subscriptions of %r: %s", topic, error)
        return None
    expected = to_pub_sub_form(question.service_id)
    if any(name.rsplit("/", 1)[-1] == expected for name in names):
        return None
    attributes = encode_attributes(question.attributes)
    candidates = [name for name in names if f".{pubsub.ANSWERS_NAMESPACE}." not in name.rsplit("/", 1)[-1]]
    if len(candidates) > MAX_SUBSCRIPTIONS_READ:
        return None
    subscriber = pubsub.subscriber_client(host)
    for name in candidates:
        try:
            subscription = subscriber.get_subscription(request={"subscription": name}, timeout=REQUEST_TIMEOUT)
        except api_exceptions.NotFound:
            continue
        except Exception as error:  # noqa: BLE001 - cannot tell
            logger.debug("Could not read the subscription %r: %s", name, error)
            return None
        if admits(subscription.filter, attributes):
            return None
    return ServiceNotFound(
        f"Nobody can receive questions to {question.service_id}: no subscription of the topic {topic!r} (project "
        f"{question.project!r}) takes questions to it ({_counted(candidates)}), so the question was delivered to no "
        f"one and no answer can come. Serve {question.service_id} on that topic in project {question.project!r}, or "
        "ask it where it is served (the project of `ask`/`Child`, a child's backend.project_id in octue.yaml, "
        "TWINED_SERVICES_TOPIC_NAME)."
    )


def _counted(names: list[str]) -> str:
    """What the topic's subscriptions for questions (answer subscriptions left out) are."""
    if not names:
        return "the topic has no subscription for questions"
    return f"its {len(names)} subscription{'s' if len(names) != 1 else ''} for questions filter on other recipients"


__all__ = ["DELIVERY_CHECK_SECONDS", "admits", "undeliverable"]
