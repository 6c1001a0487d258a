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
