"""Loading a service's `app.py`: exactly one entrypoint, `run(analysis)` or `class App(analysis)` with `run()`.

Each app is imported under its own module name, so several services can be loaded in one process.
"""

import hashlib
import importlib.util
import inspect
import sys
from collections.abc import Callable
from pathlib import Path

from octue_beam.exceptions import InvalidApp


def _entrypoint(module: object, path: Path) -> Callable:
    run = getattr(module, "run", None)
    app_class = getattr(module, "App", None)
    has_run = callable(run) and not inspect.isclass(run)
    has_class = inspect.isclass(app_class)
    if has_run and has_class:
        raise InvalidApp(f"{path} has both a 'run(analysis)' function and an 'App' class: keep exactly one entrypoint.")
    if has_class:
        if not callable(getattr(app_class, "run", None)):
            raise InvalidApp(f"The 'App' class in {path} has no 'run()' method.")

        def run_app(analysis: object) -> None:
            app_class(analysis).run()

        run_app.__name__ = f"{app_class.__name__}.run"
        return run_app
    if has_run:
        return run
    raise InvalidApp(
        f"{path} has no entrypoint: define a function 'run(analysis)' or a class 'App' with "
        "'__init__(self, analysis)' and 'run(self)'."
    )


def load_app(app_source_path: str | Path) -> Callable[[object], None]:
    """The app's entrypoint as a function of the Analysis; `app_source_path` is `app.py` or its folder."""
    path = Path(app_source_path)
    if path.is_dir():
        path = path / "app.py"
    if not path.is_file():
        raise InvalidApp(
            f"No app found at {str(path)!r}: a service needs an app.py (see app_source_path in octue.yaml)."
        )
    path = path.resolve()
    folder_name = "".join(c if c.isalnum() else "_" for c in path.parent.name)
    module_name = f"app_{folder_name}_{hashlib.sha1(str(path).encode()).hexdigest()[:8]}"
    if module_name in sys.modules:
        return _entrypoint(sys.modules[module_name], path)

    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    folder = str(path.parent)
    _forget_shadowed_modules(path.parent)
    sys.path.insert(0, folder)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[module_name]
        raise InvalidApp(f"Importing the app {str(path)!r} failed: {type(error).__name__}: {error}") from error
    finally:
        try:
            sys.path.remove(folder)
        except ValueError:
            pass
    try:
        return _entrypoint(module, path)
    except InvalidApp:
        del sys.modules[module_name]
        raise


def _forget_shadowed_modules(folder: Path) -> None:
    """Drop from `sys.modules` the modules that the app's own modules of the same name must replace.

    An app imports its sibling modules by their plain names (`from fractal import fractal`). If another app loaded in
    this process (or anything else) already imported a module of that name from elsewhere, Python would hand this
    app that one. Each top-level module or package in the app's folder therefore replaces a same-named module
    (and its submodules) imported from outside the folder; the apps already loaded keep the modules they hold.
    """
    names = {child.stem for child in folder.glob("*.py")} | {
        child.parent.name for child in folder.glob("*/__init__.py") if child.parent.name.isidentifier()
    }
    root = folder.resolve()
    for name in names - {"app", "setup", "conftest", "tests", "test"} - set(sys.stdlib_module_names):
        module = sys.modules.get(name)
        if module is None or _inside(module, root):
            continue
        for loaded in [loaded for loaded in sys.modules if loaded == name or loaded.startswith(name + ".")]:
            del sys.modules[loaded]


def _inside(module: object, folder: Path) -> bool:
    locations = [getattr(module, "__file__", None), *list(getattr(module, "__path__", []) or [])]
    for location in filter(None, locations):
        try:
            Path(location).resolve().relative_to(folder)
            return True
        except ValueError:
            continue
    return False
