"""`octue-beam init TEMPLATE DIR`: start a new service from a template, with its own working tests.

The templates ship in the package (`octue_beam.templates`): fractal, using-manifests and child-services, each a
complete, small service folder (octue.yaml, twine.json, app, example input in data/input/, README, requirements.txt
and tests/test_app.py using octue_beam's pytest plugin). The service's namespace and name come from `--namespace`
and `--name` (the name defaults to DIR's name in lower-case kebab case) and are checked as SRUID parts before
anything is written. A folder that holds anything is refused unless `--force`; `--list` lists the templates. Nothing
here imports Beam.
"""

import argparse
import re
import shlex
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

from octue_beam.cli.arguments import CommandError
from octue_beam.exceptions import InvalidServiceID
from octue_beam.messaging.sruid import NAME_PATTERN, RESERVED_NAMESPACES, validate_name
from octue_beam.templates import TEMPLATES, DirectoryNotEmpty, create_service

if TYPE_CHECKING:
    from octue_beam.service.configuration import ServiceConfiguration

DEFAULT_NAMESPACE = "my-org"
HELP_WIDTH = 80
#: Example input files a template may hold, and the `ask-local` / `ask` option each is given with.
EXAMPLE_INPUTS = (("data/input/values.json", "--input-values"), ("data/input/manifest.json", "--input-manifest"))
#: The `run` option asking the example question with each of those.
RUN_ASK_OPTIONS = {"--input-values": "--ask", "--input-manifest": "--ask-manifest"}


def add_parser(subparsers: Any) -> None:
    """Register the `init` command."""
    parser = subparsers.add_parser(
        "init",
        help="Start a new service from a template (fractal, using-manifests, child-services), with working tests.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=textwrap.fill(
            "Make a new service in DIR from TEMPLATE: a complete, small service folder (octue.yaml, twine.json, "
            "app.py, example input in data/input/, README.md, requirements.txt) with its own tests "
            "(tests/test_app.py: once locally and once through Pub/Sub, with octue_beam's pytest plugin), which "
            "pass as generated. The service is NAMESPACE/NAME (lower-case kebab case); NAME defaults to DIR's name. "
            "DIR is made if needed; a folder that already holds anything is refused unless --force (then the "
            "template's files are written over files of the same name). Prints the next steps: run it locally, "
            "serve it, test it. See docs/templates.md.",
            width=HELP_WIDTH,
        )
        + "\n\ntemplates:\n"
        + textwrap.indent(template_list(), "  "),
    )
    parser.add_argument("template", nargs="?", metavar="TEMPLATE", help=f"one of: {', '.join(TEMPLATES)}")
    parser.add_argument("directory", nargs="?", metavar="DIR", help="the folder to make the service in")
    parser.add_argument(
        "--namespace",
        default=DEFAULT_NAMESPACE,
        help=f"the service's namespace, usually your organisation's name (lower-case kebab case; default: "
        f"{DEFAULT_NAMESPACE})",
    )
    parser.add_argument("--name", help="the service's name (lower-case kebab case; default: DIR's name, kebab-cased)")
    parser.add_argument(
        "--force",
        action="store_true",
        help="write into DIR even if it holds files (the template's files overwrite files of the same name)",
    )
    parser.add_argument("--list", action="store_true", help="list the templates and exit")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """List the templates, or make the service and print the next steps."""
    if args.list:
        print(template_list())
        return 0
    if not args.template or not args.directory:
        missing = "TEMPLATE and DIR" if not args.template else "DIR"
        raise CommandError(
            f"Give {missing}: `python -m octue_beam init TEMPLATE DIR`, where TEMPLATE is one of "
            f"{', '.join(TEMPLATES)} (`init --list` describes them)."
        )
    if args.template not in TEMPLATES:
        raise CommandError(
            f"There is no template {args.template!r}; the templates are: {', '.join(TEMPLATES)} "
            "(`init --list` describes them)."
        )
    directory = Path(args.directory)
    namespace = checked_name(args.namespace, "namespace", "--namespace")
    name = checked_name(args.name, "name", "--name") if args.name is not None else name_from_directory(directory)
    try:
        written, overwritten = create_service(
            args.template, directory, {"namespace": namespace, "name": name}, force=args.force
        )
    except DirectoryNotEmpty as error:
        raise CommandError(str(error)) from None
    # Imported when the command runs: reading octue.yaml loads yaml and the service configuration, which `--help`
    # and the other commands do not need.
    from octue_beam.service.configuration import load_service_configuration, service_names

    services = [load_service_configuration(directory, service_name=each) for each in service_names(directory)]
    print(summary(args.template, directory, services, written, overwritten))
    return 0


def template_list() -> str:
    """The templates, one a line (wrapped under its description), aligned: `name  description`."""
    width = max(len(name) for name in TEMPLATES) + 2
    return "\n".join(
        textwrap.fill(description, HELP_WIDTH, initial_indent=name.ljust(width), subsequent_indent=" " * width)
        for name, description in TEMPLATES.items()
    )


def checked_name(value: str, part: str, option: str) -> str:
    """`value` if it is a valid SRUID `part` (namespace or name), else a CommandError saying why."""
    try:
        validate_name(value, part)
    except InvalidServiceID:
        raise CommandError(
            f"{option} {value!r} is not a valid service {part}: use lower-case letters, digits and single hyphens "
            f"between them ({NAME_PATTERN}), e.g. {'my-org' if part == 'namespace' else 'my-service'}."
        ) from None
    if part == "namespace" and value in RESERVED_NAMESPACES:
        raise CommandError(f"{option} {value!r} is reserved: choose another namespace (e.g. your organisation's).")
    return value


def name_from_directory(directory: Path) -> str:
    """DIR's name in lower-case kebab case (`My_Service` -> `my-service`), or a CommandError asking for `--name`."""
    folder_name = directory.resolve().name
    name = re.sub(r"[^a-z0-9]+", "-", folder_name.lower()).strip("-")
    if not name:
        raise CommandError(
            f"The folder name {folder_name!r} gives no service name (lower-case letters, digits and hyphens): give "
            "--name, e.g. --name my-service."
        )
    return name


def summary(template: str, directory: Path, services: list["ServiceConfiguration"], written: list[Path],
            overwritten: list[Path]) -> str:
    """What was made (`services`: the new octue.yaml's, the main one first) and the next steps: commands to copy,
    each under a comment saying what it does."""
    namespace, name = services[0].namespace, services[0].name
    lines = [f"Made the service {namespace}/{name} from the {template} template in {directory} ({len(written)} files)."]
    if overwritten:
        lines.append(f"Overwrote {len(overwritten)} file(s): {', '.join(path.as_posix() for path in overwritten)}.")
    if namespace == DEFAULT_NAMESPACE:
        lines.append(f"The namespace is the default {DEFAULT_NAMESPACE!r}: set your organisation's in octue.yaml.")
    if len(services) > 1:
        names = ", ".join(service.name for service in services)
        lines.append(f"Its octue.yaml lists {len(services)} services ({names}): `run .` serves them all.")
    examples = [(option, path) for path, option in EXAMPLE_INPUTS if (directory / path).is_file()]
    asked = " ".join(f"{RUN_ASK_OPTIONS[option]} {path}" for option, path in examples)
    lines += ["", "Next steps (its README.md says more):", f"  cd {shlex.quote(str(directory))}",
              "  python -m pip install -r requirements.txt"]
    lines += _ask_local_step(services, " ".join(f"{option} {path}" for option, path in examples))
    lines += [
        "  # serve it as a streaming pipeline on local emulators, ask it one question and stop",
        f"  python -m octue_beam run . {asked}".rstrip(),
        "  # or serve it until Ctrl-C: it prints the command that asks it from another shell",
        "  python -m octue_beam run .",
        "  # run its tests (the Pub/Sub emulator needs Java 11+)",
        "  python -m pytest",
    ]
    return "\n".join(lines)


def _ask_local_step(services: list["ServiceConfiguration"], inputs: str) -> list[str]:
    """The `ask-local` step: for the main service, unless it asks children (then for one that does not) or uploads
    output datasets (ask-local then needs Cloud Storage: the README says how)."""
    main = services[0]
    if main.output_location is not None:
        return ["  # (ask-local uploads the output dataset to Cloud Storage: README.md says how to run it)"]
    local = next((service for service in services if not service.children and not service.output_location), None)
    if main.children and local is None:
        return []
    chosen = f" --service {local.name}" if len(services) > 1 else ""
    comment = "answer one question locally, without Pub/Sub"
    if local is not main:
        comment = f"ask {local.name} one question locally, without Pub/Sub ({main.name} asks its children over Pub/Sub)"
    return [f"  # {comment}", f"  python -m octue_beam ask-local .{chosen} {inputs}".rstrip()]
