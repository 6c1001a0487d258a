"""What every command shares about its arguments: the parser class, unknown options, JSON-or-file values and user
errors."""

import argparse
import difflib
import json
import os
import re
from collections.abc import Iterable, Sequence
from typing import Any


class CommandError(Exception):
    """A user error in a command's arguments: printed as one paragraph, exit code 1."""


#: How close (difflib's ratio) an unknown option of `run` must be to one of `run`'s own options to be refused as a
#: typo of it at once, before Beam is imported. No Beam pipeline option is this close to one of `run`'s options
#: (tests/cli/test_arguments.py checks that against Beam's parsers), so no real Beam option is ever refused.
TYPO_CUTOFF = 0.75

_NUMBER = re.compile(r"^-\d+(\.\d*)?([eE][-+]?\d+)?$|^-\.\d+")


def option_name(argument: str) -> str | None:
    """The option an argument names (`--name` of `--name=value`), or None for a value (including `-1` and `--`)."""
    if not argument.startswith("-") or argument == "--" or argument == "-" or _NUMBER.match(argument):
        return None
    return argument.split("=", 1)[0]


def unknown_option_message(option: str, known: Iterable[str], cutoff: float = 0.6) -> str:
    """`unknown option --askk; did you mean --ask?` (the closest of `known`, when one is close enough)."""
    candidates = sorted({name for name in known if name.startswith("--")} - {"--help"})
    close = difflib.get_close_matches(option, candidates, n=1, cutoff=cutoff)
    if close:
        return f"unknown option {option}; did you mean {close[0]}?"
    return f"unknown option {option}"


class CommandParser(argparse.ArgumentParser):
    """The parser of one command (the `parser_class` of the subparsers). Abbreviations are off: `--input-value` is
    an unknown option, never a silent `--input-values`.

    An unknown option is an error naming it and the closest known option. With `unknown_options_dest`, unknown
    options are collected in that attribute of the namespace instead (the `run` command passes them to Beam as
    pipeline options, where Beam's own parsers check them), except, with `typo_cutoff` (`run` gives
    `TYPO_CUTOFF`), those so close to one of this command's own options that they can only be typos of it: those
    are refused at once, unless listed in `passed_through` (real pipeline options that happen to be that close).
    """

    def __init__(
        self,
        *args: Any,
        unknown_options_dest: str | None = None,
        typo_cutoff: float | None = None,
        passed_through: Sequence[str] = (),
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)
        self.unknown_options_dest = unknown_options_dest
        self.typo_cutoff = typo_cutoff
        self.passed_through = frozenset(passed_through)

    @property
    def own_options(self) -> list[str]:
        """Every option string this parser shows in its help (`--ask`, `--revision-tag`, ...)."""
        return [
            option for action in self._actions if action.help != argparse.SUPPRESS for option in action.option_strings
        ]

    def parse_known_args(
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        namespace, extras = super().parse_known_args(args, namespace)
        options = [name for name in map(option_name, extras) if name is not None]
        if self.unknown_options_dest is None:
            if options:
                self.error(unknown_option_message(options[0], self.own_options))
            return namespace, extras
        for option in options if self.typo_cutoff is not None else ():
            if option in self.passed_through:
                continue
            if difflib.get_close_matches(option, self.own_options, n=1, cutoff=self.typo_cutoff):
                self.error(unknown_option_message(option, self.own_options, cutoff=self.typo_cutoff))
        kept = list(getattr(namespace, self.unknown_options_dest, None) or [])
        setattr(namespace, self.unknown_options_dest, kept + list(extras))
        return namespace, []


def _looks_like_a_path(value: str) -> bool:
    """Whether a value that is not valid JSON was meant as a file: it ends with .json, or it has a path separator
    and does not start like a JSON object, array or string."""
    if value.endswith(".json"):
        return True
    separators = {os.sep, "/"} | ({os.altsep} if os.altsep else set())
    return any(separator in value for separator in separators) and not value.lstrip().startswith(("{", "[", '"'))


def load_json_argument(value: str | None, what: str) -> Any:
    """A JSON value given inline or as the path of a JSON file (None when not given); `what` names the option."""
    if value is None:
        return None
    if os.path.isfile(value):
        with open(value) as f:
            text = f.read()
        where = f"file {value!r}"
    else:
        text = value
        where = "the command line"
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        if where == "the command line" and _looks_like_a_path(value):
            raise CommandError(
                f"{what}: no such file {value!r} (give the JSON itself, or the path of a JSON file; the current "
                f"folder is {os.getcwd()!r})"
            ) from None
        raise CommandError(f"{what} from {where} is not valid JSON: {error}") from None
