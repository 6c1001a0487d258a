"""Data resources: Datafile, Dataset, Manifest, their filters, tags and labels (Octue-compatible)."""

from octue_beam.resources.datafile import Datafile
from octue_beam.resources.dataset import Dataset
from octue_beam.resources.filters import FilterDict, FilterList, FilterSet
from octue_beam.resources.labels import LabelSet
from octue_beam.resources.manifest import Manifest, check_remote_manifest
from octue_beam.resources.tags import TagDict

__all__ = [
    "Datafile",
    "Dataset",
    "FilterDict",
    "FilterList",
    "FilterSet",
    "LabelSet",
    "Manifest",
    "TagDict",
    "check_remote_manifest",
]
