"""The per-process cache folder: scopes delete what was made in them, and a root deleted meanwhile is made again,
private to this user."""

import os
import shutil
import stat

from octue_beam.resources import cache


def test_a_scope_deletes_the_folders_made_in_it_and_each_scope_has_its_own_folder():
    with cache.scope("question-1") as first, cache.scope("question-1") as second:
        assert first != second
        made = cache.new_directory("outputs")
        assert made.startswith(second + os.sep) and os.path.isdir(made)
    assert not os.path.exists(second) and not os.path.exists(first)


def test_a_scope_in_which_nothing_is_copied_makes_no_folder():
    with cache.scope("nothing-copied") as folder:
        pass
    assert not os.path.exists(folder)


def test_a_cache_root_deleted_meanwhile_is_made_again_private_to_this_user():
    root = cache.cache_root()
    shutil.rmtree(root)
    with cache.scope("after-deletion") as folder:
        assert cache.current_folder() == folder and os.path.isdir(folder)
    assert stat.S_IMODE(os.stat(root).st_mode) == 0o700
    shutil.rmtree(root)
    made = cache.new_directory()
    assert made.startswith(root + os.sep) and os.path.isdir(made)
    assert stat.S_IMODE(os.stat(root).st_mode) == 0o700
    shutil.rmtree(root)
    assert cache.current_folder() == root and os.path.isdir(root)
