"""The local runner's watermark bookkeeping (`octue_beam.pipeline.local_watermarks`), driven through Beam's own
WatermarkManager as the BundleBasedDirectRunner drives it for an unbounded read: every pull ends by handing the read
an empty bundle to be scheduled again. Beam kept each of them as pending input for ever, and walked them all at
every pull, so a local service got slower with every question it answered."""

import apache_beam as beam
import pytest
from apache_beam.runners.direct.bundle_factory import BundleFactory
from apache_beam.runners.direct.clock import RealClock
from apache_beam.runners.direct.consumer_tracking_pipeline_visitor import ConsumerTrackingPipelineVisitor
from apache_beam.runners.direct.evaluation_context import _SideInputsContainer
from apache_beam.runners.direct.watermark_manager import WatermarkManager
from apache_beam.transforms.window import GlobalWindows
from apache_beam.utils.timestamp import Timestamp

from octue_beam.pipeline.local_reads import set_local_pull_size
from octue_beam.pipeline.local_watermarks import forget_empty_pending_bundles


def _read_and_its_manager():
    pipeline = beam.Pipeline()
    pipeline | "Read" >> beam.Impulse() | "Answer" >> beam.Map(lambda element: element)
    visitor = ConsumerTrackingPipelineVisitor()
    pipeline.visit(visitor)
    transforms = set(visitor.root_transforms) | {c for cs in visitor.value_to_consumers.values() for c in cs}
    manager = WatermarkManager(
        RealClock(), visitor.root_transforms, visitor.value_to_consumers, {t: {} for t in transforms}
    )
    (read,) = visitor.root_transforms
    return read, manager


def _complete_a_pull(manager, read, factory, input_bundle, outputs=()):
    """What the runner does when a read bundle (one pull) completes: its outputs, and an empty bundle for the read
    itself to be scheduled again."""
    again = factory.create_empty_committed_bundle(read.inputs[0] if read.inputs else beam.pvalue.PBegin(read))
    manager.update_watermarks(input_bundle, read, [], list(outputs), [again], {None: Timestamp.of(0)},
                              _SideInputsContainer([]))
    return again


@pytest.mark.parametrize("install", [forget_empty_pending_bundles, lambda: set_local_pull_size(100)],
                         ids=["itself", "with-the-local-reads"])
def test_the_pending_input_of_an_unbounded_read_stays_empty_over_many_pulls(install):
    assert install()
    read, manager = _read_and_its_manager()
    factory = BundleFactory(stacked=True)
    input_bundle = None
    for _ in range(1000):
        input_bundle = _complete_a_pull(manager, read, factory, input_bundle)
    assert len(manager.get_watermarks(read)._pending) == 0


def test_a_pending_bundle_with_elements_still_holds_the_watermark_back():
    assert forget_empty_pending_bundles()
    read, manager = _read_and_its_manager()
    (answer,) = manager._value_to_consumers[read.outputs[None]]
    factory = BundleFactory(stacked=True)
    output = factory.create_bundle(read.outputs[None])
    output.output(GlobalWindows.windowed_value(b"question", timestamp=Timestamp.of(100)))
    output.commit(None)
    _complete_a_pull(manager, read, factory, None, [output])
    held = manager.get_watermarks(answer)
    held.refresh()
    assert len(held._pending) == 1
    assert held._input_watermark < Timestamp.of(100)  # the question at t=100 has not been processed yet
