"""`octue-beam dockerfile SERVICE_DIR --target dataflow|cloud-run [--python 3.11] [--output FILE]`: print or write the
Dockerfile a service is built with (its own, or the default: `octue_beam.deployment.dockerfiles`)."""

import argparse
from pathlib import Path
from typing import Any

from octue_beam.cli.arguments import CommandError


def add_parser(subparsers: Any) -> None:
    """Register the `dockerfile` command."""
    parser = subparsers.add_parser(
        "dockerfile",
        help="Print or write the Dockerfile a service is deployed with (Cloud Run or Dataflow).",
        description=(
            "Print (or write to --output) the Dockerfile the service in SERVICE_DIR is built with for a target: the "
            "service's own file, as is, when its octue.yaml gives dockerfile_path; else the default. The Dataflow "
            "default is one image for the Flex Template launcher and the Beam workers (the Beam SDK image of the "
            "installed Beam version plus Google's launcher binary); the Cloud Run default is a slim Python image "
            "running `python -m octue_beam serve` on $PORT as a non-root user. Both install the service's "
            "dependencies (pyproject.toml, setup.py or requirements.txt) and octue_beam when the image is built. "
            "Build with the service folder as the context, e.g. `gcloud builds submit SERVICE_DIR --tag IMAGE` with "
            "the file written to SERVICE_DIR/Dockerfile. See docs/deployment.md."
        ),
    )
    parser.add_argument("service_dir", metavar="SERVICE_DIR", help="folder of the service's octue.yaml")
    parser.add_argument(
        "--target", required=True, metavar="{cloud-run,dataflow}", help="where the image runs: cloud-run or dataflow"
    )
    parser.add_argument(
        "--python",
        metavar="VERSION",
        help="Python version of the image: 3.10, 3.11, 3.12 or 3.13 (default: this interpreter's if one of those, "
        "else 3.11)",
    )
    parser.add_argument(
        "--octue-beam-requirement",
        metavar="REQUIREMENT",
        help="pip requirement the image installs octue_beam from (default: octue_beam==<this version>); e.g. a wheel "
        "in the service folder, ./octue_beam-0.1.0-py3-none-any.whl, or 'octue_beam @ git+https://...@TAG'",
    )
    parser.add_argument(
        "--service",
        metavar="NAME",
        help="which service of SERVICE_DIR's octue.yaml, when it lists several (the image sets OCTUE_SERVICE_NAME)",
    )
    parser.add_argument("--output", metavar="FILE", help="write the Dockerfile to FILE instead of printing it")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Print or write the Dockerfile; a bad target, Python version or service configuration is a CommandError."""
    # Imported when the command runs: --help and the other commands do not need the service configuration.
    from octue_beam.deployment.dockerfiles import dockerfile_text

    if not Path(args.service_dir).is_dir():
        raise CommandError(f"SERVICE_DIR {args.service_dir!r} is not a folder (it must hold the service's octue.yaml).")
    try:
        text = dockerfile_text(
            args.service_dir,
            args.target,
            args.python,
            octue_beam_requirement=args.octue_beam_requirement,
            service_name=args.service,
        )
    except ValueError as error:
        raise CommandError(str(error)) from None
    if args.output is None:
        print(text, end="")
        return 0
    output = Path(args.output)
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        raise CommandError(f"Cannot write the Dockerfile to {args.output!r}: {error.strerror or error}.") from None
    print(f"Wrote the {args.target} Dockerfile of {args.service_dir} to {output}.")
    return 0
