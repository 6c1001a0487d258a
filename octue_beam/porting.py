"""Porting an Octue 0.69 app to octue_beam: rewriting its `octue` imports to the octue_beam names that replace them.

`rewrite_imports(source)` is a pure function on the text of one Python file (the `port` command applies it to every
`.py` file of a folder). Each `from octue... import NAME` is rewritten name by name through `OCTUE_NAMES`: a
statement whose names live in several octue_beam modules becomes one statement per module, aliases are kept, and
the rest of the file is left byte for byte. What it cannot port is returned, one entry per line of the original:

- an import of an Octue name octue_beam does not provide (the line is left as it was, with what to use instead when
  there is a one-line replacement: `REPLACEMENTS`);
- `import octue...` (the code then uses `octue.x.y` attributes, which only an edit of the code can change);
- a string naming an Octue object, e.g. a `patch("octue.twined.runner.Child", ...)` target in a test.

Docstrings and comments that mention Octue (`:param octue.resources.Datafile file:`) are not touched or reported.
"""

import ast
import io
import tokenize

#: Octue module -> {public name: the octue_beam module that provides it}. Names at the octue_beam root are its lazy
#: public API (`from octue_beam import Datafile`), which is cheap to import.
OCTUE_NAMES: dict[str, dict[str, str]] = {
    "octue.resources": {"Datafile": "octue_beam", "Dataset": "octue_beam", "Manifest": "octue_beam"},
    "octue.resources.datafile": {"Datafile": "octue_beam"},
    "octue.resources.dataset": {"Dataset": "octue_beam"},
    "octue.resources.manifest": {"Manifest": "octue_beam"},
    "octue.resources.filter_containers": {
        "FilterSet": "octue_beam.resources.filters",
        "FilterList": "octue_beam.resources.filters",
        "FilterDict": "octue_beam.resources.filters",
    },
    "octue.resources.label": {"LabelSet": "octue_beam.resources"},
    "octue.resources.tag": {"TagDict": "octue_beam.resources"},
    "octue.utils.files": {"RegisteredTemporaryDirectory": "octue_beam.utils.files"},
    "octue.twined": {"Twine": "octue_beam"},
    "octue.twined.twine": {"Twine": "octue_beam"},
    "octue.twined.resources": {"Analysis": "octue_beam", "Child": "octue_beam"},
    "octue.twined.resources.analysis": {"Analysis": "octue_beam"},
    "octue.twined.resources.child": {"Child": "octue_beam"},
    "octue.twined.runner": {"Runner": "octue_beam.service.runner"},
    "octue.twined.configuration": {"ServiceConfiguration": "octue_beam"},
    "octue.twined.cloud.emulators": {"ChildEmulator": "octue_beam"},
    "octue.twined.cloud.emulators.child": {"ChildEmulator": "octue_beam"},
    "octue.twined.essentials.monitor_messages": {
        "send_status_text": "octue_beam.service.monitor_messages",
        "send_estimated_seconds_remaining": "octue_beam.service.monitor_messages",
    },
    "octue.twined.cloud.service_id": {
        "create_sruid": "octue_beam.messaging.sruid",
        "split_service_id": "octue_beam.messaging.sruid",
        "validate_sruid": "octue_beam.messaging.sruid",
    },
    "octue.twined.cloud.pub_sub.bigquery": {"get_events": "octue_beam"},
    "octue.twined.cloud.events.replayer": {"EventReplayer": "octue_beam"},
    "octue.twined.cloud.events": {"EventReplayer": "octue_beam"},
    "octue.cloud.storage.path": dict.fromkeys(
        ("generate_gs_path", "is_cloud_path", "is_cloud_uri", "is_url", "join", "relpath",
         "split_bucket_name_from_cloud_path"),
        "octue_beam.storage.path",
    ),
}

#: Exception classes of `octue.exceptions` and `octue.twined.exceptions` that octue_beam raises under the same name.
_EXCEPTIONS = (
    "BackendNotFound", "BrokenSequenceException", "CloudLocationNotSpecified", "CredentialNotFound",
    "FileLocationError", "InvalidInputException", "InvalidLabelException", "InvalidManifest",
    "InvalidManifestContents", "InvalidManifestJson", "InvalidManifestType", "InvalidMonitorMessage",
    "InvalidServiceID", "InvalidSourceKindException", "InvalidTagException", "InvalidTwine", "InvalidTwineContents",
    "InvalidTwineJson", "InvalidValues", "InvalidValuesContents", "InvalidValuesJson", "MissingServiceID",
    "ReadOnlyResource", "ServiceAlreadyExists", "ServiceNotFound", "UnexpectedNumberOfResultsException",
)
for _module in ("octue.exceptions", "octue.twined.exceptions"):
    OCTUE_NAMES[_module] = dict.fromkeys(_EXCEPTIONS, "octue_beam.exceptions")

#: Octue names without an octue_beam namesake, and the one line to write instead.
REPLACEMENTS: dict[str, str] = {
    "octue.resources.filter_containers.FilterContainer": "use FilterSet, FilterList or FilterDict",
    "octue.utils.files.registered_temporary_directories": (
        "octue_beam keeps no list: a RegisteredTemporaryDirectory made while answering a question is removed with "
        "the question's temporary folder"
    ),
    "octue.log_handlers.apply_log_handler": (
        "logging.basicConfig(...) (octue_beam adds no handler of its own; `python -m octue_beam --log-level` sets "
        "the level)"
    ),
    "octue.cloud.storage.GoogleCloudStorageClient": (
        "octue_beam.storage.client.StorageClients / the Datafile and Dataset methods (upload, download, open)"
    ),
    "octue.utils.gen_uuid": "str(uuid.uuid4())",
}

#: Mock targets in tests (strings naming where Octue looks a name up).
_TARGET_REPLACEMENTS = {
    "octue.twined.runner.Child": "octue_beam.testing.emulated_children(...)",
    "octue.runner.Child": "octue_beam.testing.emulated_children(...)",
}


def rewrite_imports(source: str) -> tuple[str, list[str]]:
    """Rewrite the `octue` imports of one Python file to octue_beam's; `(new source, what could not be ported)`.

    Each entry of the second list is `"line N: <the original line> (<why, and what to use instead>)"`. A file that
    does not parse is returned unchanged with one entry saying so.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        return source, [f"line {error.lineno}: not valid Python ({error.msg}): left unchanged"]
    lines = source.splitlines(keepends=True)
    edits: list[tuple[int, int, int, int, str]] = []  # (start line, start col, end line, end col, replacement)
    problems: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and _is_octue(node.module or ""):
            replacement, unported = _rewrite_from(node, _indentation(lines[node.lineno - 1]))
            if replacement is not None:
                edits.append((node.lineno, node.col_offset, node.end_lineno, node.end_col_offset, replacement))
            for reason in unported:
                problems.append((node.lineno, reason))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if _is_octue(alias.name):
                    problems.append((node.lineno, f"`import {alias.name}`: import the names the code uses instead "
                                                  "(`from octue_beam import ...`), then change the code that uses "
                                                  f"`{alias.asname or alias.name}.` attributes"))
    problems.extend(_octue_targets(source))
    new_source = _apply(lines, edits)
    original = source.splitlines()
    report = [
        f"line {number}: {original[number - 1].strip()} ({reason})"
        for number, reason in sorted(problems, key=lambda item: item[0])
    ]
    return new_source, report


def _is_octue(module: str) -> bool:
    return module == "octue" or module.startswith("octue.")


def _indentation(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _rewrite_from(node: ast.ImportFrom, indentation: str) -> tuple[str | None, list[str]]:
    """The octue_beam statements replacing `from octue... import ...` (None: leave it as it is) and the names that
    could not be ported. A statement with any unported name is left whole, so the file fails loudly where it did."""
    module = node.module or ""
    known = OCTUE_NAMES.get(module, {})
    by_target: dict[str, list[str]] = {}
    unported = []
    for alias in node.names:
        target = known.get(alias.name)
        if target is None:
            unported.append(_why_not(module, alias.name))
            continue
        by_target.setdefault(target, []).append(alias.name if alias.asname is None else f"{alias.name} as "
                                                                                         f"{alias.asname}")
    if unported:
        return None, unported
    statements = [_from_statement(target, names, indentation) for target, names in by_target.items()]
    return f"\n{indentation}".join(statements), []


def _from_statement(module: str, names: list[str], indentation: str) -> str:
    one_line = f"from {module} import {', '.join(names)}"
    if len(indentation) + len(one_line) <= 120:
        return one_line
    inner = "".join(f"{indentation}    {name},\n" for name in names)
    return f"from {module} import (\n{inner}{indentation})"


def _why_not(module: str, name: str) -> str:
    if name == "*":
        return f"`from {module} import *`: import the names the code uses"
    replacement = REPLACEMENTS.get(f"{module}.{name}")
    if replacement is not None:
        return f"{module}.{name} has no octue_beam namesake: {replacement}"
    if module not in OCTUE_NAMES:
        return f"octue_beam has no counterpart of the module {module}"
    return f"octue_beam has no {name} in place of {module}.{name}"


def _octue_targets(source: str) -> list[tuple[int, str]]:
    """Strings that name an Octue object (`"octue.twined.runner.Child"`), e.g. the target of a `mock.patch`."""
    found = []
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return found
    for token in tokens:
        if token.type != tokenize.STRING:
            continue
        try:
            value = ast.literal_eval(token.string)
        except (ValueError, SyntaxError):
            continue
        if isinstance(value, str) and value.startswith("octue.") and not any(c.isspace() for c in value):
            instead = _TARGET_REPLACEMENTS.get(value, "name the octue_beam object instead")
            found.append((token.start[0], f"the string {value!r} names an Octue object: {instead}"))
    return found


def _apply(lines: list[str], edits: list[tuple[int, int, int, int, str]]) -> str:
    """`lines` with each edit's span (1-based lines, 0-based columns) replaced, from the last edit to the first."""
    text = list(lines)
    for start_line, start_col, end_line, end_col, replacement in sorted(edits, reverse=True):
        first = text[start_line - 1]
        last = text[end_line - 1]
        merged = _prefix(first, start_col) + replacement + _suffix(last, end_col)
        text[start_line - 1:end_line] = [merged]
    return "".join(text)


def _prefix(line: str, col: int) -> str:
    """The text of `line` before column `col` (ast columns count UTF-8 bytes)."""
    return line.encode()[:col].decode()


def _suffix(line: str, col: int) -> str:
    return line.encode()[col:].decode()


__all__ = ["OCTUE_NAMES", "REPLACEMENTS", "rewrite_imports"]
