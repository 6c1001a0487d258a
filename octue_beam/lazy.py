"""Lazy package namespaces (PEP 562): a package names its public objects and their modules, and each module is
imported when one of its names is first used, so that importing the package, or one light module of it, does not
import them all (the Pub/Sub client, Beam).

    __getattr__, __dir__ = lazy_namespace(__name__, {"Answerer": "octue_beam.answering.core", ...})
"""

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_namespace(package: str, names: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The `__getattr__` and `__dir__` of `package`, whose `names` come from the modules named with them (each
    imported on first use, then kept in the package's namespace)."""

    def __getattr__(name: str) -> Any:
        module_name = names.get(name)
        if module_name is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module_name), name)
        vars(sys.modules[package])[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *names})

    return __getattr__, __dir__
