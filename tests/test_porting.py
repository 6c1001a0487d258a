"""`octue_beam.porting.rewrite_imports`: an Octue app's imports rewritten to octue_beam's, the rest left alone, and
what cannot be ported reported by line."""

import importlib

import pytest

from octue_beam.porting import OCTUE_NAMES, rewrite_imports


@pytest.mark.parametrize(("module", "name", "target"), [
    (module, name, target) for module, names in OCTUE_NAMES.items() for name, target in names.items()
])
def test_every_name_the_rewrite_maps_to_exists_where_it_points(module, name, target):
    assert hasattr(importlib.import_module(target), name), f"{module}.{name} -> {target}.{name}"


def test_the_using_manifests_template_imports_are_rewritten_and_nothing_else():
    source = (
        "import logging\n"
        "import os\n\n"
        "from cleaner import clean, read_csv_files, read_dat_file\n\n"
        "from octue.resources import Datafile, Dataset\n"
        "from octue.utils.files import RegisteredTemporaryDirectory\n\n"
        "def run(analysis):\n"
        '    """:param octue.twined.resources.Analysis analysis:"""\n'
        "    # octue.resources.Datafile in a comment\n"
        "    return RegisteredTemporaryDirectory().name\n"
    )
    ported, unported = rewrite_imports(source)
    assert unported == []
    assert ported == source.replace(
        "from octue.resources import Datafile, Dataset\nfrom octue.utils.files import",
        "from octue_beam import Datafile, Dataset\nfrom octue_beam.utils.files import",
    )


def test_names_from_several_octue_beam_modules_split_keeping_aliases_and_indentation():
    source = (
        "try:\n"
        "    from octue.twined.resources import (\n"
        "        Analysis as A,\n"
        "        Child,\n"
        "    )\n"
        "    from octue.twined.runner import Runner\n"
        "    from octue.twined.exceptions import InvalidValuesContents, ServiceNotFound  # why\n"
        "except ImportError:\n"
        "    pass\n"
    )
    ported, unported = rewrite_imports(source)
    assert unported == []
    assert ported == (
        "try:\n"
        "    from octue_beam import Analysis as A, Child\n"
        "    from octue_beam.service.runner import Runner\n"
        "    from octue_beam.exceptions import InvalidValuesContents, ServiceNotFound  # why\n"
        "except ImportError:\n"
        "    pass\n"
    )


def test_what_cannot_be_ported_is_left_as_it_was_and_reported_by_line():
    source = (
        "import octue\n"
        "from octue.utils import gen_uuid\n"
        "from octue.resources import Datafile, Label\n"
        "from octue.cloud.deployment import something\n"
        "with patch('octue.twined.runner.Child', side_effect=emulators):\n"
        "    pass\n"
    )
    ported, unported = rewrite_imports(source)
    assert ported == source
    assert [entry.split(":")[0] for entry in unported] == ["line 1", "line 2", "line 3", "line 4", "line 5"]
    assert "str(uuid.uuid4())" in unported[1]  # the one-line replacement for Octue's helper
    assert "no Label" in unported[2]
    assert "no counterpart of the module octue.cloud.deployment" in unported[3]
    assert "emulated_children" in unported[4]


def test_a_file_that_does_not_parse_is_returned_unchanged_and_said_so():
    ported, unported = rewrite_imports("from octue.resources import (\n")
    assert ported == "from octue.resources import (\n"
    assert unported and "not valid Python" in unported[0]


def test_octues_event_store_names_port_to_octue_beams():
    ported, unported = rewrite_imports(
        "from octue.twined.cloud.pub_sub.bigquery import get_events\n"
        "from octue.twined.cloud.events.replayer import EventReplayer\n"
    )
    assert ported == "from octue_beam import get_events\nfrom octue_beam import EventReplayer\n"
    assert unported == []
