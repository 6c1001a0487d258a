"""The local runner's watermark bookkeeping without a leak: empty bundles are not kept as pending input.

Beam's BundleBasedDirectRunner keeps, for every transform, the set of its input bundles not yet processed, and each
time a bundle of the transform completes it walks every element of every pending bundle to find the earliest
timestamp (`watermark_manager._TransformWatermarks.refresh`). An unbounded read (Pub/Sub) ends each pull by handing
itself an empty bundle to be scheduled again; the manager adds that bundle to the read's pending set but removes a
completed input bundle only if it has elements, so the read's set grows by one bundle per pull, for ever, and the walk
at every pull grows with it (an idle service's too: a pull that times out is a bundle). A local service slowed down
with every question it had answered: over ten runs of 1,000 questions on one service (`python bench/ask_multiple.py
--trend-sustained 10`) its CPU per question went from 3.5 to 10.5 ms and its rate from 154 to 82 questions/s; with
this mend alone, 2.9 to 5.8 ms and 205 to 145 (the rest was the read bundles shrinking: `pipeline.local_reads`).

A bundle without elements holds no watermark back (the walk looks only at elements), and pending bundles are
committed, so never change: `forget_empty_pending_bundles()` makes the pending set ignore them. Process-wide, for the
local runner only (Dataflow does not use this code); a Beam version without the hook keeps its own behaviour.
"""

from typing import Any

from apache_beam.runners.direct import watermark_manager

from octue_beam.pipeline.local_hooks import replace_once


def forget_empty_pending_bundles() -> bool:
    """Make the local runner keep only bundles with elements as a transform's pending input (process-wide, idempotent);
    False if this Beam version has no such hook."""
    return replace_once(
        getattr(watermark_manager, "_TransformWatermarks", None),
        "add_pending",
        _skipping_empty_bundles,
        "This Beam version's local runner has no pending-bundle hook; its bookkeeping is left as it is.",
    )


def _skipping_empty_bundles(original: Any) -> Any:
    def add_pending(self: Any, pending: Any) -> None:  # same signature as Beam's
        if pending.has_elements():
            original(self, pending)

    return add_pending
