"""Copying a template into a new service folder, with the service's namespace and name filled in."""

import os
import re
from dataclasses import dataclass
from pathlib import Path

#: The templates, in the order `init --list` shows them: name -> what the new service shows.
TEMPLATES: dict[str, str] = {
    "fractal": "configuration and input values, monitor messages and a Plotly figure as output values (numpy)",
    "using-manifests": "an input manifest of tagged and labelled CSV files cleaned into an output dataset in Cloud "
    "Storage",
    "child-services": "a parent service asking two child services in parallel; the three are served together",
}

#: A file whose name ends with this is filled in and copied without it; other files are copied as they are.
TEMPLATE_SUFFIX = "-tpl"
PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
#: What the package may hold beside a template's files (bytecode of a local run) and is never copied.
_SKIPPED = {"__pycache__", ".pytest_cache", ".ruff_cache"}

HERE = Path(__file__).resolve().parent


class UnknownTemplate(ValueError):
    """No template of that name."""


class DirectoryNotEmpty(FileExistsError):
    """The target folder holds files (or is a file) and `force` was not given."""


@dataclass(frozen=True)
class PlannedFile:
    """One file of the new service: its path relative to the service folder and its contents."""

    path: Path
    contents: bytes


def template_folder(template: str) -> Path:
    """The folder of `template` in the package; UnknownTemplate naming the templates there are."""
    if template not in TEMPLATES:
        known = ", ".join(TEMPLATES)
        raise UnknownTemplate(f"There is no template {template!r}; the templates are: {known}.")
    return HERE / template


def planned_files(template: str, values: dict[str, str]) -> list[PlannedFile]:
    """The files of a new service made from `template`, with `values` (`namespace`, `name`) filled in, sorted by
    path. A placeholder with no value is a KeyError naming it and the file (a broken template, not a user error)."""
    folder = template_folder(template)
    planned = []
    for root, folders, files in os.walk(folder):
        folders[:] = sorted(name for name in folders if name not in _SKIPPED)
        for name in sorted(files):
            if name.endswith((".pyc", ".pyo")):
                continue
            source = Path(root) / name
            relative = source.relative_to(folder)
            contents = source.read_bytes()
            if name.endswith(TEMPLATE_SUFFIX):
                relative = relative.with_name(name[: -len(TEMPLATE_SUFFIX)])
                contents = _fill(contents.decode("utf-8"), values, source).encode("utf-8")
            planned.append(PlannedFile(relative, contents))
    return sorted(planned, key=lambda planned_file: planned_file.path.as_posix())


def _fill(text: str, values: dict[str, str], source: Path) -> str:
    def value(match: re.Match) -> str:
        key = match.group(1)
        if key not in values:
            raise KeyError(f"The template file {source} has the placeholder {match.group(0)} with no value.")
        return values[key]

    return PLACEHOLDER.sub(value, text)


def create_service(
    template: str, directory: str | os.PathLike, values: dict[str, str], force: bool = False
) -> tuple[list[Path], list[Path]]:
    """Write the service made from `template` (with `values` filled in) into `directory`, made if needed.

    A folder that already holds anything is refused (DirectoryNotEmpty) unless `force`, and then only the template's
    own files are written over; nothing is written when refused. Returns the files written (relative to
    `directory`, in path order) and, of those, the ones that existed before.
    """
    target = Path(directory)
    planned = planned_files(template, values)
    if target.exists() and not target.is_dir():
        raise DirectoryNotEmpty(f"{str(target)!r} is a file, not a folder: give the folder to make the service in.")
    present = sorted(path.name for path in target.iterdir()) if target.is_dir() else []
    if present and not force:
        shown = ", ".join(present[:5]) + (f" and {len(present) - 5} more" if len(present) > 5 else "")
        raise DirectoryNotEmpty(
            f"The folder {str(target)!r} is not empty (it holds {shown}): give a new or empty folder, or --force to "
            "write the template's files into it (files of the same name are overwritten)."
        )
    for planned_file in planned:
        _check_writable(target, planned_file.path)
    overwritten = [planned_file.path for planned_file in planned if (target / planned_file.path).exists()]
    for planned_file in planned:
        path = target / planned_file.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(planned_file.contents)
    return [planned_file.path for planned_file in planned], overwritten


def _check_writable(target: Path, relative: Path) -> None:
    """DirectoryNotEmpty when a folder stands where the file goes, or a file where one of its folders goes."""
    if (target / relative).is_dir():
        raise DirectoryNotEmpty(f"{str(target / relative)!r} is a folder where the template writes a file: move it.")
    for parent in relative.parents:
        if parent != Path(".") and (target / parent).exists() and not (target / parent).is_dir():
            raise DirectoryNotEmpty(f"{str(target / parent)!r} is a file where the template makes a folder: move it.")
