"""What every command shares about its arguments: the parser class, JSON-or-file values and user errors."""

import argparse
import json
import os
from collections.abc import Sequence
from typing import Any


class CommandError(Exception):
    """A user error in a command's arguments: printed as one paragraph, exit code 1."""


class CommandParser(argparse.ArgumentParser):
    """The parser of one command (the `parser_class` of the subparsers).

    With `unknown_options_dest`, options the command does not know are collected in that attribute of the namespace
    instead of being an error: the `run` command passes them to Beam as pipeline options.
    """

    def __init__(self, *args: Any, unknown_options_dest: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.unknown_options_dest = unknown_options_dest

    def parse_known_args(
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        namespace, extras = super().parse_known_args(args, namespace)
        if self.unknown_options_dest is None:
            return namespace, extras
        kept = list(getattr(namespace, self.unknown_options_dest, None) or [])
        setattr(namespace, self.unknown_options_dest, kept + list(extras))
        return namespace, []


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
        raise CommandError(f"{what} from {where} is not valid JSON: {error}") from None
