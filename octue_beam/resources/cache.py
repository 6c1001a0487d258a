"""One per-process folder for temporary local copies (downloads, outputs), deleted at exit or on demand.

A long-running worker answering many questions should wrap each question in `with cache.scope(question_uuid):`:
temporary copies made while it runs (in this thread, or in transfer threads it starts) go under a sub-folder that
is deleted when the scope ends, so the disk does not fill up.
"""

import atexit
import contextlib
import contextvars
import itertools
import os
import re
import shutil
import tempfile
import threading
import uuid

_lock = threading.Lock()
_root: str | None = None
_scope: contextvars.ContextVar["_Scope | None"] = contextvars.ContextVar("octue_beam_cache_scope", default=None)
#: What a scope's name may not hold in its folder's name (anything but letters, digits, "_" and "-").
_UNSAFE = re.compile(r"[^\w-]")
#: Numbers the scopes of this process (a random suffix cost every question a system call).
_scopes = itertools.count()


class _Scope:
    """A scope's folder: named when the scope starts, made only when something first needs it."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.made = False

    def make(self) -> str:
        if not self.made:
            _make_root_again(self.folder)
            os.makedirs(self.folder, exist_ok=True)
            self.made = True
        return self.folder


def cache_root() -> str:
    """The process's temporary folder (created on first use; deleted at interpreter exit).

    Named once: every question's scope asks for it, so it is neither locked nor looked at on disk again (threads
    queued on the lock while one of them waited for the disk). Whatever puts something in it makes the folders it
    needs, the root included, so it may be deleted meanwhile (`clear()` starts a new one)."""
    global _root
    root = _root
    if root is not None:
        return root
    with _lock:
        if _root is None:
            _root = os.path.realpath(tempfile.mkdtemp(prefix=f"octue-beam-{os.getpid()}-"))
            atexit.register(clear)
        return _root


def current_folder() -> str:
    """The folder new temporary copies go to: the current scope's folder (created on first use), else the cache
    root (made again if something deleted it)."""
    scoped = _scope.get()
    if scoped is not None:
        return scoped.make()
    root = cache_root()
    os.makedirs(root, mode=0o700, exist_ok=True)
    return root


@contextlib.contextmanager
def scope(name: str | None = None):
    """Put temporary copies made inside the block under their own folder, deleted when the block ends.

    The folder is made when something first needs it (`current_folder`, which everything in octue_beam that makes
    a local copy calls): most questions copy nothing, and making and deleting a folder per question cost them a
    few milliseconds. Write into the path the block yields only through `current_folder()`: a folder made
    otherwise is not looked for when the block ends (that look cost every question a system call) and stays until
    the cache is cleared."""
    safe = _UNSAFE.sub("_", name or "") or "unnamed"
    # Unique within the root: a forked process may share its parent's root, not its process ID.
    folder = os.path.join(cache_root(), f"scope-{safe}-{os.getpid()}-{next(_scopes)}")
    scoped = _Scope(folder)
    token = _scope.set(scoped)
    try:
        yield folder
    finally:
        _scope.reset(token)
        if scoped.made:
            shutil.rmtree(folder, ignore_errors=True)


def new_directory(name: str | None = None) -> str:
    """A new empty folder inside the cache folder (optionally ending in `name`)."""
    path = os.path.join(current_folder(), uuid.uuid4().hex)
    if name:
        path = os.path.join(path, name)
    os.makedirs(path)
    return path


def new_file_path(file_name: str) -> str:
    """A path for a new file called `file_name` (its basename is kept) in its own folder inside the cache."""
    base = os.path.basename(file_name.replace("\\", "/")) or "file"
    if base in (".", ".."):
        base = "file"
    return os.path.join(new_directory(), base)


def _make_root_again(folder: str) -> None:
    """Make the cache root `folder` is in, private to this user, if something deleted it (`makedirs` would make it
    with the umask's permissions)."""
    root = os.path.dirname(folder)
    if root == _root and not os.path.isdir(root):
        os.makedirs(root, mode=0o700, exist_ok=True)


def is_in_cache(path: str) -> bool:
    """True if `path` is inside the cache folder."""
    root = _root
    return bool(root) and os.path.realpath(path).startswith(root + os.sep)


def clear() -> None:
    """Delete the cache folder and everything in it."""
    global _root
    with _lock:
        root, _root = _root, None
    if root:
        shutil.rmtree(root, ignore_errors=True)
