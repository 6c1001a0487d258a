"""`octue-beam port DIR [--to NEW_DIR] [--dry-run]`: move an Octue service (or a folder of them) to octue_beam.

Every `.py` file under DIR has its `octue` imports rewritten to octue_beam's (`octue_beam.porting.rewrite_imports`,
the rest of each file unchanged byte for byte), in place, or in a copy of DIR with `--to`; `--dry-run` writes
nothing and prints the changes as a unified diff on stdout. What it could not port is listed on stderr, one line
each as `path:line: the line (why, and what to use instead)`: imports of Octue names without an octue_beam
namesake, `import octue...`, strings naming Octue objects (mock targets), dependency files that still require
`octue`, Dockerfiles that run the `octue` command, and a folder without an octue.yaml. Exit code 0 when nothing is
left to do, 1 when something is (or the arguments are wrong). docs/porting.md is the step-by-step guide.
"""

import argparse
import difflib
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from octue_beam.cli.arguments import CommandError

#: Folders never looked into: version control, caches, virtual environments, installed packages.
SKIPPED_FOLDERS = {".git", ".hg", ".svn", "__pycache__", ".venv", "venv", "env", "node_modules", "site-packages",
                   ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache", "build", "dist"}
DEPENDENCY_FILES = re.compile(r"^(requirements.*\.(txt|in)|setup\.py|setup\.cfg|pyproject\.toml|Pipfile)$")
#: A requirement of the `octue` distribution (not of `octue_beam` / `octue-beam`).
OCTUE_REQUIREMENT = re.compile(r"""(^|[\s"'\[,])octue(?![\w.-]*beam)(\s*[=<>~!\[;@]|\s*$|["',])""")
OCTUE_COMMAND = re.compile(r"""(^|[\s"'\[,])octue(\s+|",\s*")(twined|question|start|deploy|get-diagnostics)\b""")
OCTUE_CLI_REPLACEMENTS = (
    "octue_beam serves with `python -m octue_beam run SERVICE_DIR` and asks with `python -m octue_beam ask`; "
    "`python -m octue_beam dockerfile` writes the Dockerfile of a deployment"
)


def add_parser(subparsers: Any) -> None:
    """Register the `port` command."""
    parser = subparsers.add_parser(
        "port",
        help="Move an Octue service to octue_beam: rewrite its imports and list what is left to do by hand.",
        description=(
            "Rewrite the `octue` imports of every .py file under DIR to octue_beam's (the rest of each file is left "
            "as it is), in place, or in a copy made at --to NEW_DIR; --dry-run writes nothing and prints the "
            "changes as a unified diff. What could not be ported is listed on stderr as path:line: the line (why, "
            "and what to use instead): Octue names without an octue_beam namesake, `import octue...`, strings "
            "naming Octue objects (mock targets), requirements that still name octue, Dockerfiles running the "
            "octue command, a folder without an octue.yaml. Exit code 0 when nothing is left, 1 otherwise. "
            "See docs/porting.md."
        ),
    )
    parser.add_argument("directory", metavar="DIR", help="the Octue service's folder (or a folder of services)")
    parser.add_argument("--to", metavar="NEW_DIR", help="port a copy of DIR made here (DIR is left unchanged)")
    parser.add_argument(
        "--dry-run", action="store_true", help="write nothing; print the changes as a unified diff on stdout"
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Port the folder; 0 when nothing is left to port by hand, 1 otherwise."""
    # Imported when the command runs: the other commands do not need the import rewriter.
    from octue_beam.porting import rewrite_imports

    source = Path(args.directory)
    if not source.is_dir():
        raise CommandError(f"DIR {args.directory!r} is not a folder (give the folder of the Octue service).")
    target = source
    if args.to and not args.dry_run:
        target = _copy(source, Path(args.to))
    changed, left = port_folder(target, rewrite_imports, write=not args.dry_run, diff=sys.stdout)
    if args.to and args.dry_run:
        print(f"(dry run: nothing was copied to {args.to})", file=sys.stderr)
    for line in left:
        print(line, file=sys.stderr)
    where = f" in {target}" if target != source else ""
    verb = "would rewrite" if args.dry_run else "rewrote"
    summary = f"octue-beam port: {verb} the imports of {len(changed)} file(s){where}"
    if left:
        print(f"{summary}; {len(left)} thing(s) left to port by hand (above; see docs/porting.md).", file=sys.stderr)
        return 1
    print(f"{summary}; nothing left to port by hand.", file=sys.stderr)
    return 0


def port_folder(
    folder: Path, rewrite: Callable[[str], tuple[str, list[str]]], write: bool = True, diff: Any = None
) -> tuple[list[Path], list[str]]:
    """Rewrite the imports of every .py file under `folder` with `rewrite` (writing them when `write`, printing a
    unified diff to the stream `diff` when given); return the changed files and what is left to port by hand."""
    changed: list[Path] = []
    left: list[str] = []
    configured: set[Path] = set()  # folders of an octue.yaml
    twined: list[Path] = []  # folders of a twine.json
    for path in _files(folder):
        shown = _shown(path)
        if path.name == "octue.yaml":
            configured.add(path.parent)
            continue
        if path.name == "twine.json":
            twined.append(path.parent)
        if path.suffix == ".py" or DEPENDENCY_FILES.match(path.name) or path.name.startswith("Dockerfile"):
            try:
                text = path.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError) as error:
                left.append(f"{shown}: not read ({error}): port it by hand")
                continue
        else:
            continue
        if DEPENDENCY_FILES.match(path.name):
            left += _lines_matching(shown, text, OCTUE_REQUIREMENT, "requires octue: require octue_beam instead")
        if path.name.startswith("Dockerfile"):
            left += _lines_matching(shown, text, OCTUE_COMMAND, f"runs the octue command: {OCTUE_CLI_REPLACEMENTS}")
        if path.suffix != ".py":
            continue
        new_text, unported = rewrite(text)
        left += [line for line in dict.fromkeys(_located(shown, problem) for problem in unported) if line not in left]
        if new_text == text:
            continue
        changed.append(path)
        if diff is not None:
            diff.writelines(
                difflib.unified_diff(
                    text.splitlines(keepends=True), new_text.splitlines(keepends=True), f"a/{shown}", f"b/{shown}"
                )
            )
        if write:
            with open(path, "w", encoding="utf-8", newline="") as f:
                f.write(new_text)
    for service in _unconfigured(folder, twined or [folder], configured):
        left.append(
            f"{_shown(service)}: no octue.yaml: an octue_beam service needs one next to its twine.json "
            "(services: [{namespace: ..., name: ...}]; see docs/services.md)"
        )
    return changed, left


def _unconfigured(root: Path, services: list[Path], configured: set[Path]) -> list[Path]:
    """The folders of `services` with no octue.yaml in them or in a folder above them (up to `root`)."""
    unconfigured = []
    for service in services:
        above = [service, *(parent for parent in service.parents if parent.is_relative_to(root))]
        if not any(folder in configured for folder in above):
            unconfigured.append(service)
    return unconfigured


def _files(folder: Path) -> Iterator[Path]:
    for root, folders, files in os.walk(folder):
        folders[:] = sorted(name for name in folders if name not in SKIPPED_FOLDERS and not name.startswith("."))
        for name in sorted(files):
            yield Path(root) / name


def _lines_matching(shown: str, text: str, pattern: re.Pattern, why: str) -> list[str]:
    return [
        f"{shown}:{number}: {line.strip()} ({why})"
        for number, line in enumerate(text.splitlines(), start=1)
        if pattern.search(line.split("#", 1)[0])
    ]


def _located(shown: str, problem: str) -> str:
    """`path:N: ...` from the rewriter's `line N: ...`."""
    match = re.match(r"line (\d+): (.*)", problem, re.DOTALL)
    return f"{shown}:{match.group(1)}: {match.group(2)}" if match else f"{shown}: {problem}"


def _shown(path: Path) -> str:
    """`path` relative to the current folder when under it, else as it is."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _copy(source: Path, target: Path) -> Path:
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise CommandError(f"--to {str(target)!r} exists and is not an empty folder: give a new folder.")
    if target.resolve().is_relative_to(source.resolve()):
        raise CommandError(f"--to {str(target)!r} is inside DIR {str(source)!r}: give a folder outside it.")
    ignore = shutil.ignore_patterns("__pycache__", ".venv", "venv", "node_modules", ".tox", ".nox", ".*_cache")
    shutil.copytree(source, target, ignore=ignore, symlinks=True, dirs_exist_ok=True)
    return target
