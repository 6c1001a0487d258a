"""`pipeline.local_hooks.replace_once`: how the local runner's mends are put in (once, in the form the hook has), and
what happens on a Beam version without the hook."""

import logging

from octue_beam.pipeline.local_hooks import replace_once


def test_a_hook_is_replaced_once_however_often_it_is_asked_for_and_a_classmethod_stays_one():
    class Hooks:
        @classmethod
        def name(cls):
            return f"beam's, on {cls.__name__}"

    made = []

    def replacement(original):
        made.append(original)
        function = original.__func__
        return classmethod(lambda cls: "mended " + function(cls))

    assert replace_once(Hooks, "name", replacement, "no hook")
    assert replace_once(Hooks, "name", replacement, "no hook")
    assert len(made) == 1 and isinstance(made[0], classmethod)
    assert Hooks.name() == "mended beam's, on Hooks"


def test_a_missing_hook_is_left_as_it_is_with_a_warning(caplog):
    class Hooks:
        pass

    with caplog.at_level(logging.WARNING, logger="octue_beam.pipeline.local_hooks"):
        assert not replace_once(Hooks, "absent", lambda original: original, "This Beam has no such hook.")
        assert not replace_once(None, "absent", lambda original: original, "This Beam has no such module.")
    assert not hasattr(Hooks, "absent")
    assert [record.getMessage() for record in caplog.records] == [
        "This Beam has no such hook.",
        "This Beam has no such module.",
    ]
