"""Fuzzing the answering core with malformed question messages, in-process (no emulator, no Beam).

Each example is a batch of malformed or foreign messages (tests/fuzz/messages.py) delivered as a transport does:
`check_message`, then `Answerer.answer` for a question or `Answerer.reject` + `DeadLetter.from_rejection` for a broken
one, with a `MemoryPublisher`. For every message: nothing raises; a message not addressed to the service gets
nothing; one addressed to it gets exactly one final event when it says who asked (a UUID question from an SRUID
sender) and nothing (a dead letter only) when it does not; every event sent is a valid wire message addressed to
the raw sender, never to anything else a message carries; nothing is read outside the service's folders. After
each batch a valid question is answered correctly.

The run is derandomized (the same messages every run) with `FUZZ_EXAMPLES` examples; set the environment variable
OCTUE_BEAM_FUZZ_EXAMPLES to fuzz longer locally.
"""

import contextlib
import dataclasses
import itertools
import json
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from octue_beam.answering import Answerer, Question, Rejection, check_message
from octue_beam.answering.values import DeadLetter
from octue_beam.messaging.parsing import parse_message
from octue_beam.messaging.publishing import MemoryPublisher
from octue_beam.resources import cache
from tests.fuzz.messages import (
    EVENT_LIMIT_DEPTH,
    SRUID,
    addressed_to_service,
    deep_question,
    escaping_manifests,
    is_sruid,
    malformed_messages,
    path_escapes,
    question,
    says_who_asked,
    write_fuzz_service,
)
from tests.support.paths import REPOSITORY

FUZZ_EXAMPLES = int(os.environ.get("OCTUE_BEAM_FUZZ_EXAMPLES", "300"))
MAX_BYTES = 10_000_000
FUZZ_SETTINGS = settings(
    derandomize=True,
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)


class ReadRecorder:
    """Every file or folder opened or listed while recording (an audit hook sees builtins.open, os.open,
    io.open_code, os.listdir and os.scandir alike), by any thread. Audit hooks cannot be removed, so one is installed
    once and switched on around what the service does (not around hypothesis's own bookkeeping)."""

    EVENTS = ("open", "os.listdir", "os.scandir")

    def __init__(self) -> None:
        self.active = False
        self.paths: list[str] = []

    def __call__(self, event: str, args: tuple) -> None:
        if self.active and event in self.EVENTS and args and isinstance(args[0], (str, bytes, os.PathLike)):
            self.paths.append(os.path.realpath(os.fsdecode(args[0])))

    @contextlib.contextmanager
    def recording(self) -> Iterator[None]:
        self.active = True
        try:
            yield
        finally:
            self.active = False


READS = ReadRecorder()
sys.addaudithook(READS)


@dataclasses.dataclass
class Sandbox:
    root: Path
    service_dir: Path
    outside_file: Path

    def allowed_roots(self) -> tuple[str, ...]:
        """The service's folders (its copy, its cache folder) and the Python installation it imports from."""
        roots = {self.root, REPOSITORY / "octue_beam", Path(cache.cache_root()), Path(sys.prefix),
                 Path(sys.base_prefix), Path(sys.exec_prefix)}
        return tuple(os.path.realpath(root) + os.sep for root in roots)

    def outside_reads(self) -> list[str]:
        roots = self.allowed_roots()
        return sorted({path for path in READS.paths if not (path + os.sep).startswith(roots)})


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> Sandbox:
    """A copy of the behaviours service (`write_fuzz_service`) and a secret file outside it that no question may
    make it read."""
    root = tmp_path_factory.mktemp("fuzz-sandbox")
    service_dir = write_fuzz_service(root / "service")
    outside_file = tmp_path_factory.mktemp("outside") / "secret.txt"
    outside_file.write_text("not for questions")
    return Sandbox(root, service_dir, outside_file)


@dataclasses.dataclass
class Harness:
    answerer: Answerer
    publisher: MemoryPublisher
    sandbox: Sandbox
    asked: set = dataclasses.field(default_factory=set)

    def deliver(self, data: bytes, attributes: dict[str, str]) -> tuple[Question | Rejection | None, list[tuple]]:
        """Deliver one message as a transport does and check what the service did; `(checked, messages sent)`."""
        before = len(self.publisher.messages)
        with READS.recording():
            checked = check_message(data, attributes, SRUID, MAX_BYTES)
            if isinstance(checked, Rejection):
                letter = DeadLetter.from_rejection(checked)
                answered = self.answerer.reject(checked)
            elif isinstance(checked, Question):
                pending = self.answerer.answer(checked)
                answer = pending.wait() if pending is not None else None
        sent = self.publisher.messages[before:]
        if isinstance(checked, Rejection):
            assert letter.data == data and letter.reason == checked.reason
            assert all(len(name) <= 256 and len(value) <= 1024 for name, value in letter.attributes.items())
        elif isinstance(checked, Question):
            if checked.key in self.asked:  # the same question delivered again: nothing is sent
                assert answer is None and sent == []
            self.asked.add(checked.key)

        if not addressed_to_service(attributes):
            assert checked is None and sent == [], (attributes, sent)
            return checked, sent
        assert isinstance(checked, (Question, Rejection))
        if isinstance(checked, Rejection):
            expected = 1 if says_who_asked(attributes) else 0
            assert answered is bool(expected) and len(sent) == expected, (checked.reason, attributes, sent)
        for sent_data, sent_attributes in sent:
            event, typed = parse_message(sent_data, sent_attributes)  # a valid wire message
            assert typed["sender"] == SRUID and typed["sender_type"] == "CHILD"
            assert is_sruid(typed["recipient"]) and typed["recipient"] == attributes["sender"]
            assert typed["question_uuid"] == attributes["question_uuid"]
            assert event.get("exception_type") != "RecursionError"
        finals = [json.loads(sent_data)["kind"] for sent_data, _ in sent]
        finals = [kind for kind in finals if kind in ("result", "exception")]
        assert len(finals) == (len(sent) and 1), sent
        if isinstance(checked, Rejection) and sent:
            assert json.loads(sent[0][0])["exception_type"] == "InvalidEvent"
        return checked, sent

    def assert_still_answers(self, number: int) -> None:
        data, attributes = question(str(uuid.uuid4()), {"action": "echo", "value": number})
        with READS.recording():
            checked = check_message(data, attributes, SRUID, MAX_BYTES)
            answer = self.answerer.answer(checked).wait()
        assert answer.kind == "result" and answer.event["output_values"] == {"action": "echo", "value": number}


@pytest.fixture(scope="module")
def harness(sandbox):
    publisher = MemoryPublisher()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(sandbox.root)
        answerer = Answerer.load(str(sandbox.service_dir), publisher, sruid=SRUID, heartbeat_interval=0)
        assert answerer.service is not None, answerer.load_error
        try:
            yield Harness(answerer, publisher, sandbox)
        finally:
            answerer.close()


@pytest.fixture
def reads(sandbox):
    """What the service opens during the test; the test fails if anything outside the service's folders was."""
    READS.paths.clear()
    yield READS
    assert str(sandbox.outside_file.resolve()) not in READS.paths
    assert sandbox.outside_reads() == []


def test_the_fuzzed_service_answers_a_valid_question(harness, reads):
    harness.assert_still_answers(0)


BATCH_NUMBERS = itertools.count(1)


@FUZZ_SETTINGS
@given(data=st.data())
def test_malformed_messages_get_one_exception_or_nothing_and_the_service_still_answers(harness, reads, data):
    sandbox = harness.sandbox
    batch = data.draw(st.lists(malformed_messages(str(sandbox.outside_file), str(sandbox.service_dir)),
                               min_size=1, max_size=3))
    for message_data, attributes in batch:
        harness.deliver(message_data, attributes)
    harness.assert_still_answers(next(BATCH_NUMBERS))
    assert sandbox.outside_reads() == []


@FUZZ_SETTINGS
@given(depth=st.integers(1, 5000), opener=st.sampled_from("[{"))
def test_deep_nesting_is_a_validation_error_and_reasonable_depth_is_answered(harness, depth, opener):
    checked, sent = harness.deliver(*deep_question(str(uuid.uuid4()), depth, opener))
    if depth + 2 <= EVENT_LIMIT_DEPTH:  # the event and its input values are two of the levels
        assert isinstance(checked, Question)
        assert json.loads(sent[-1][0])["kind"] == "result"
    else:
        assert isinstance(checked, Rejection)
        assert f"nested too deeply: more than the limit of {EVENT_LIMIT_DEPTH} levels" in checked.reason
        exception = json.loads(sent[-1][0])
        assert exception["exception_type"] == "InvalidEvent" and "nested too deeply" in exception["exception_message"]


@pytest.mark.parametrize("manifest_number", range(len(escaping_manifests("/x", "/y"))))
def test_each_path_escape_is_refused_with_unsafe_path_and_nothing_outside_is_read(harness, reads, manifest_number):
    sandbox = harness.sandbox
    manifest = escaping_manifests(str(sandbox.outside_file), str(sandbox.service_dir))[manifest_number]
    data, attributes = question(f"00000000-0000-4000-8000-{manifest_number:012d}", {"action": "echo"},
                                input_manifest=manifest)
    checked, sent = harness.deliver(data, attributes)
    assert isinstance(checked, Question)
    final = json.loads(sent[-1][0])
    assert final["kind"] == "exception" and final["exception_type"] == "UnsafePath", final


@FUZZ_SETTINGS
@given(data=st.data())
def test_fuzzed_path_escapes_are_refused(harness, reads, data):
    sandbox = harness.sandbox
    message_data, attributes = data.draw(path_escapes(str(sandbox.outside_file), str(sandbox.service_dir)))
    _, sent = harness.deliver(message_data, attributes)
    if sent:  # a repeated question UUID is a duplicate delivery: nothing sent
        assert json.loads(sent[-1][0])["exception_type"] == "UnsafePath"


def test_the_read_recorder_sees_every_way_of_opening_a_file(sandbox):
    """The no-outside-read checks above are only as good as the recorder: it sees open, os.open and os.listdir."""
    READS.paths.clear()
    outside = str(sandbox.outside_file.resolve())
    with READS.recording():
        with open(outside) as file:
            file.read()
        os.close(os.open(outside, os.O_RDONLY))
        os.listdir(os.path.dirname(outside))
    assert READS.paths.count(outside) == 2 and os.path.dirname(outside) in READS.paths
    assert outside + os.sep not in sandbox.allowed_roots() and sandbox.outside_reads() != []
    READS.paths.clear()
