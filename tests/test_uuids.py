"""`octue_beam.uuids`: random UUIDs from buffered random bytes, as random as `uuid.uuid4()` and never repeated by a
forked process."""

import multiprocessing
import uuid

import pytest

from octue_beam import uuids


def test_uuids_are_version_4_and_distinct_across_several_buffers():
    made = [uuids.uuid4() for _ in range(3 * uuids.BUFFERED_UUIDS + 5)]
    assert len(set(made)) == len(made)
    assert all(made_uuid.version == 4 and made_uuid.variant == uuid.RFC_4122 for made_uuid in made)
    assert uuid.UUID(uuids.uuid4_string()).version == 4


def _child_uuids(connection) -> None:
    connection.send([uuids.uuid4_string() for _ in range(3)])
    connection.close()


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork (Linux)")
def test_a_forked_process_does_not_repeat_the_uuids_its_parent_has_buffered():
    uuids.uuid4()  # the buffer is full: a forked child would inherit it
    receiving, sending = multiprocessing.Pipe(duplex=False)
    child = multiprocessing.get_context("fork").Process(target=_child_uuids, args=(sending,))
    child.start()
    from_child = receiving.recv()
    child.join(timeout=30)
    from_parent = [uuids.uuid4_string() for _ in range(3)]
    assert not set(from_child) & set(from_parent)
