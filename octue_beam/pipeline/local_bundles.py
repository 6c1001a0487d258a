"""The local runner's cost per bundle: the state and timer check of the service's DoFns, made once per class, and
views of the pipeline options made once (`caching_views`).

Beam's BundleBasedDirectRunner asks, for every bundle of every ParDo, whether its DoFn keeps user state or timers
(`userstate.get_dofn_specs`: when it schedules the bundle, when it starts it and when it builds the DoFn's runner).
Each time it builds `inspect.signature` of every method of the DoFn (about 30, most of them inherited from
`beam.DoFn`): about 1 ms per call, three per bundle. A service's stages run several bundles per question (the
emulator also delivers the service's own events to its subscription, and every ParDo with a tagged output sends
bundles, even empty ones, to each consumer), so this check took half of the pipeline process's CPU per question.

Whether a DoFn keeps state or timers depends only on its class's method signatures, so `cache_dofn_specs(classes)`
makes the check once per class for the classes given (the service's DoFns, which never keep state) and leaves every
other DoFn to Beam as it is. Process-wide, for the local runner only; Dataflow is not affected.
"""

import threading
from collections.abc import Iterable
from typing import Any

from apache_beam.options.pipeline_options import PipelineOptions, PipelineOptionsT
from apache_beam.transforms import userstate

from octue_beam.pipeline.local_hooks import replace_once

_lock = threading.Lock()
_classes: frozenset = frozenset()
_specs: dict[type, tuple[frozenset, frozenset]] = {}


def _caching_specs(original: Any) -> Any:
    def get_dofn_specs(dofn: Any) -> tuple[set, set]:
        """Beam's `get_dofn_specs`, computed once per class for the classes given to `cache_dofn_specs`."""
        kind = type(dofn)
        if kind not in _classes:
            return original(dofn)
        specs = _specs.get(kind)
        if specs is None:
            state, timers = original(dofn)
            specs = _specs.setdefault(kind, (frozenset(state), frozenset(timers)))
        return set(specs[0]), set(specs[1])

    return get_dofn_specs


def cache_dofn_specs(classes: Iterable[type]) -> None:
    """Make the local runner's state and timer check of DoFns of these classes once per class (process-wide)."""
    global _classes
    with _lock:
        _classes = _classes | frozenset(classes)
    # `is_stateful_dofn` and `validate_stateful_dofn`, which the runner calls, look this name up at each call.
    replace_once(
        userstate, "get_dofn_specs", _caching_specs, "This Beam version has no DoFn state check to cache; left as is."
    )


class _ViewCachingOptions(PipelineOptions):
    """Pipeline options whose `view_as` makes each view once (a view parses every flag of every options class)."""

    def view_as(self, cls: type[PipelineOptionsT]) -> PipelineOptionsT:
        views = self.__dict__.setdefault("_octue_beam_views", {})
        view = views.get(cls)
        if view is None or view._all_options is not self._all_options:  # e.g. after a deep copy
            view = views[cls] = super().view_as(cls)
        return view


def caching_views(options: PipelineOptions) -> PipelineOptions:
    """`options` (sharing its values: a change through either is seen by both) with views made once per class.

    The local runner looks at the options for every Pub/Sub read bundle (its project), and each `view_as` builds an
    argument parser of every option Beam knows: about 12% of the pipeline process's CPU per question before."""
    return options.view_as(_ViewCachingOptions)
