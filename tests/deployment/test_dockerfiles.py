"""The Dockerfiles a service is built with, checked as text (no Docker engine runs here): the defaults for every
Python version and target, the service's own file when octue.yaml names one, the dependency file detection, the
commands that build and push the image, and the `dockerfile` command."""

import importlib.metadata
import json
import re
import shlex
import subprocess
import sys

import pytest

from octue_beam.deployment import dockerfiles
from octue_beam.deployment.dockerfiles import (
    PYTHON_VERSIONS,
    TARGETS,
    build_commands,
    dependency_file,
    dockerfile_text,
)
from octue_beam.exceptions import InvalidServiceConfiguration
from tests.support.paths import REPOSITORY
from tests.support.service_dirs import write_service
from tests.test_cli_imports import beam_modules, imported_modules

BEAM_VERSION = importlib.metadata.version("apache-beam")
IMAGE = "europe-west1-docker.pkg.dev/my-project/services/my-service:1.2.0"
DATED_LAUNCHER_TAG = re.compile(r"^flex_templates_base_image_release_\d{8}_RC\d\d$")
LAUNCHER = "/opt/google/dataflow/python_template_launcher"


def instructions(text: str) -> list[tuple[str, str]]:
    """`(INSTRUCTION, arguments)` of each instruction of a Dockerfile, continuation lines joined, comments dropped."""
    result, pending = [], ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        keyword, _, arguments = (pending + line.strip()).partition(" ")
        result.append((keyword.upper(), arguments.strip()))
        pending = ""
    assert not pending, "a continuation line ends the file"
    return result


def arguments_of(text: str, keyword: str) -> list[str]:
    return [arguments for instruction, arguments in instructions(text) if instruction == keyword]


def environment(text: str) -> dict[str, str]:
    """The variables the ENV instructions set (`ENV A=1 B=2` form)."""
    variables = {}
    for arguments in arguments_of(text, "ENV"):
        for assignment in shlex.split(arguments):
            name, _, value = assignment.partition("=")
            variables[name] = value
    return variables


def build_argument_default(text: str, name: str) -> str:
    for arguments in arguments_of(text, "ARG"):
        key, _, value = arguments.partition("=")
        if key == name:
            return shlex.split(value)[0]
    raise AssertionError(f"no ARG {name}")


@pytest.fixture
def service(tmp_path):
    return write_service(tmp_path / "service", files={"requirements.txt": "numpy\n"})


@pytest.mark.parametrize("python_version", PYTHON_VERSIONS)
def test_the_dataflow_image_is_the_beam_sdk_image_with_the_flex_template_launcher_and_nothing_installed_at_start(
    service, python_version
):
    text = dockerfile_text(str(service), "dataflow", python_version)
    compact = python_version.replace(".", "")

    froms = arguments_of(text, "FROM")
    assert len(froms) == 2
    launcher_image, stage = froms[0].split(" AS ")
    repository, tag = launcher_image.rsplit(":", 1)
    assert repository == f"gcr.io/dataflow-templates-base/python{compact}-template-launcher-base"
    assert DATED_LAUNCHER_TAG.match(tag), f"the launcher base image is not pinned to a dated release: {tag}"
    assert froms[1] == f"apache/beam_python{python_version}_sdk:{BEAM_VERSION}"  # the image workers and launcher run
    assert f"--from={stage} {LAUNCHER} {LAUNCHER}" in arguments_of(text, "COPY")

    variables = environment(text)
    assert variables["FLEX_TEMPLATE_PYTHON_PY_FILE"] == "/template/launch.py"
    assert variables["OCTUE_SERVICE_DIR"] == "/service"
    assert variables["PYTHONUNBUFFERED"] == "1"
    # nothing for the launcher to pip-install when it starts
    assert [name for name in variables if name.startswith("FLEX_TEMPLATE_")] == ["FLEX_TEMPLATE_PYTHON_PY_FILE"]
    assert ". /service" in arguments_of(text, "COPY")

    runs = arguments_of(text, "RUN")
    installs = [run for run in runs if "pip install" in run]
    assert len(installs) == 1
    assert f'"apache-beam[gcp]=={BEAM_VERSION}"' in installs[0]  # the SDK image's Beam stays as it is
    assert '"${OCTUE_BEAM_REQUIREMENT}"' in installs[0] and "--requirement requirements.txt" in installs[0]
    assert build_argument_default(text, "OCTUE_BEAM_REQUIREMENT") == f"octue_beam=={dockerfiles.__version__}"
    assert any(run.endswith("> /template/launch.py") and "octue_beam.deployment.launch" in run for run in runs)

    # the Beam SDK worker entrypoint is kept, and nothing runs pip when a container starts
    assert arguments_of(text, "ENTRYPOINT") == ['["/opt/apache/beam/boot"]']
    assert arguments_of(text, "CMD") == []


@pytest.mark.parametrize("python_version", PYTHON_VERSIONS)
def test_the_cloud_run_image_is_slim_runs_serve_as_a_non_root_user_and_leaves_the_port_to_port(
    service, python_version
):
    text = dockerfile_text(str(service), "cloud-run", python_version)
    assert arguments_of(text, "FROM") == [f"python:{python_version}-slim"]

    variables = environment(text)
    assert variables["PYTHONUNBUFFERED"] == "1"
    assert variables["OCTUE_SERVICE_DIR"] == "/service"
    assert variables["PORT"] == "8080"  # Cloud Run replaces it; `serve` reads $PORT
    assert ". /service" in arguments_of(text, "COPY")

    order = [instruction for instruction, _ in instructions(text)]
    users = arguments_of(text, "USER")
    assert users == ["octue"]
    assert any(run.startswith("useradd") and run.endswith(" octue") for run in arguments_of(text, "RUN"))
    installs = [index for index, (_, arguments) in enumerate(instructions(text)) if "pip install" in arguments]
    assert len(installs) == 1 and installs[0] < order.index("USER")  # installed as root at build time
    assert f'"apache-beam[gcp]=={BEAM_VERSION}"' in instructions(text)[installs[0]][1]

    commands = arguments_of(text, "CMD")
    assert len(commands) == 1
    assert json.loads(commands[0]) == ["python", "-m", "octue_beam", "serve", "/service"]  # exec form: gets SIGTERM
    assert arguments_of(text, "ENTRYPOINT") == []


@pytest.mark.parametrize("target", TARGETS)
def test_a_dockerfile_path_in_octue_yaml_is_used_as_is(tmp_path, target):
    own = "FROM python:3.12-slim\n# my own image\nCMD [\"python\", \"-m\", \"octue_beam\", \"serve\", \".\"]\n"
    folder = write_service(
        tmp_path / "own", service={"dockerfile_path": "docker/Dockerfile.prod"}, files={"docker/Dockerfile.prod": own}
    )
    assert dockerfile_text(str(folder), target) == own
    assert dockerfile_text(str(folder), target, "3.10") == own


def test_a_missing_configured_dockerfile_is_an_error_naming_it(tmp_path):
    folder = write_service(tmp_path / "missing", service={"dockerfile_path": "Dockerfile.gone"})
    with pytest.raises(InvalidServiceConfiguration, match=r"dockerfile_path: the Dockerfile '.*Dockerfile\.gone'"):
        dockerfile_text(str(folder), "dataflow")


@pytest.mark.parametrize(
    "files, chosen, install",
    [
        ({"requirements.txt": "numpy\n"}, "requirements.txt", "--requirement requirements.txt"),
        ({"setup.py": "from setuptools import setup\nsetup(name='x')\n", "requirements.txt": "numpy\n"}, "setup.py",
         " ."),
        (
            {"pyproject.toml": "[project]\nname = 'x'\nversion = '1'\n", "setup.py": "", "requirements.txt": ""},
            "pyproject.toml",
            " .",
        ),
        # a pyproject.toml holding only tool settings is no package: the requirements file is used
        ({"pyproject.toml": "[tool.ruff]\nline-length = 120\n", "requirements.txt": "numpy\n"}, "requirements.txt",
         "--requirement requirements.txt"),
    ],
    ids=["requirements.txt", "setup.py", "pyproject.toml", "tool-only pyproject.toml"],
)
@pytest.mark.parametrize("target", TARGETS)
def test_the_dependencies_come_from_the_first_dependency_file(tmp_path, files, chosen, install, target):
    folder = write_service(tmp_path / "service", files=files)
    assert dependency_file(folder) == chosen
    text = dockerfile_text(str(folder), target)
    [run] = [run for run in arguments_of(text, "RUN") if "pip install" in run]
    assert run.endswith(install)
    assert '"${OCTUE_BEAM_REQUIREMENT}"' in run


@pytest.mark.parametrize("target", TARGETS)
def test_a_service_without_a_dependency_file_gets_octue_beam_alone(tmp_path, target):
    folder = write_service(tmp_path / "bare")
    assert dependency_file(folder) is None
    [run] = [run for run in arguments_of(dockerfile_text(str(folder), target), "RUN") if "pip install" in run]
    assert run.endswith('"${OCTUE_BEAM_REQUIREMENT}"')


@pytest.mark.parametrize("target", TARGETS)
def test_the_octue_beam_requirement_can_be_a_wheel_or_a_vcs_url(service, target):
    for requirement in ("./octue_beam-0.1.0-py3-none-any.whl", "octue_beam @ git+https://github.com/o/octue_beam@v1"):
        text = dockerfile_text(str(service), target, octue_beam_requirement=requirement)
        assert build_argument_default(text, "OCTUE_BEAM_REQUIREMENT") == requirement


def test_bad_targets_and_python_versions_are_errors_naming_the_allowed_ones(service):
    with pytest.raises(ValueError, match="'kubernetes'.*cloud-run, dataflow"):
        dockerfile_text(str(service), "kubernetes")
    with pytest.raises(ValueError, match=r"'3\.9'.*3\.10, 3\.11, 3\.12, 3\.13"):
        dockerfile_text(str(service), "dataflow", "3.9")
    with pytest.raises(ValueError, match="'kubernetes'"):
        build_commands(str(service), "kubernetes", IMAGE)


def test_the_default_python_version_is_the_running_interpreters_when_supported(service):
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    expected = running if running in PYTHON_VERSIONS else "3.11"
    assert arguments_of(dockerfile_text(str(service), "cloud-run"), "FROM") == [f"python:{expected}-slim"]


def test_app_files_outside_the_service_folder_are_refused_by_the_default_dockerfiles(tmp_path):
    write_service(tmp_path / "shared")
    folder = write_service(tmp_path / "service", service={"app_source_path": "../shared"})
    with pytest.raises(InvalidServiceConfiguration, match="app_source_path.*outside the service folder"):
        dockerfile_text(str(folder), "cloud-run")


# --- building and pushing the image ---------------------------------------------------------------


def own_service(tmp_path, dockerfile_path: str):
    """A service whose octue.yaml names its own Dockerfile (`FROM x`) at `dockerfile_path`."""
    return write_service(
        tmp_path / "own", service={"dockerfile_path": dockerfile_path}, files={dockerfile_path: "FROM x\n"}
    )


def run_command(command: str, cwd) -> subprocess.CompletedProcess:
    """Run one of `build_commands`' shell commands (python -m octue_beam with this interpreter)."""
    if command.startswith("python "):
        command = shlex.quote(sys.executable) + command[len("python"):]
    return subprocess.run(["bash", "-c", command], cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("target", TARGETS)
def test_build_commands_write_the_default_dockerfile_then_build_and_push_with_cloud_build(service, target):
    commands = build_commands(str(service), target, IMAGE, "3.12")
    assert len(commands) == 2
    assert shlex.split(commands[1]) == ["gcloud", "builds", "submit", str(service), "--tag", IMAGE]

    completed = run_command(commands[0], service)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert (service / "Dockerfile").read_text() == dockerfile_text(str(service), target, "3.12")
    # a second deployment may replace the file the first one generated
    assert build_commands(str(service), target, IMAGE, "3.12") == commands


def test_build_commands_pass_the_octue_beam_requirement_on(service):
    requirement = "./octue_beam-0.1.0-py3-none-any.whl"
    commands = build_commands(str(service), "dataflow", IMAGE, octue_beam_requirement=requirement)
    assert run_command(commands[0], service).returncode == 0
    assert build_argument_default((service / "Dockerfile").read_text(), "OCTUE_BEAM_REQUIREMENT") == requirement


def test_build_commands_never_replace_a_dockerfile_octue_beam_did_not_write(service):
    (service / "Dockerfile").write_text("FROM python:3.12\n")
    with pytest.raises(ValueError, match="dockerfile_path: Dockerfile"):
        build_commands(str(service), "cloud-run", IMAGE)
    assert (service / "Dockerfile").read_text() == "FROM python:3.12\n"


def test_build_commands_build_a_configured_dockerfile_at_the_root_as_it_is(tmp_path):
    folder = own_service(tmp_path, "Dockerfile")
    assert build_commands(str(folder), "dataflow", IMAGE) == [f"gcloud builds submit {folder} --tag {IMAGE}"]


def test_build_commands_build_a_configured_dockerfile_elsewhere_through_a_cloud_build_config(tmp_path):
    folder = own_service(tmp_path, "docker/Dockerfile.prod")
    write, submit = build_commands(str(folder), "cloud-run", IMAGE)
    completed = run_command(write, folder)
    assert completed.returncode == 0, completed.stderr
    config_path = folder / "docker" / ".octue-cloudbuild.json"
    assert json.loads(config_path.read_text()) == {
        "steps": [
            {
                "name": "gcr.io/cloud-builders/docker",
                "args": ["build", "--file", "docker/Dockerfile.prod", "--tag", IMAGE, "."],
            }
        ],
        "images": [IMAGE],
    }
    assert shlex.split(submit) == ["gcloud", "builds", "submit", str(folder), "--config", str(config_path)]


def test_build_commands_refuse_a_configured_dockerfile_outside_the_build_context(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM x\n")
    folder = write_service(tmp_path / "service", service={"dockerfile_path": "../Dockerfile"})
    with pytest.raises(ValueError, match="outside the service folder"):
        build_commands(str(folder), "cloud-run", IMAGE)


# --- the `dockerfile` command ---------------------------------------------------------------------


def test_the_dockerfile_command_writes_the_file_without_importing_beam(service, tmp_path):
    output = tmp_path / "Dockerfile.dataflow"
    modules = imported_modules("dockerfile", str(service), "--target", "dataflow", "--python", "3.13",
                               "--output", str(output))
    assert "octue_beam.deployment.dockerfiles" in modules
    assert beam_modules(modules) == []
    assert output.read_text() == dockerfile_text(str(service), "dataflow", "3.13")


def test_the_dockerfile_command_prints_the_services_own_file(tmp_path):
    folder = own_service(tmp_path, "Dockerfile")
    completed = subprocess.run(
        [sys.executable, "-m", "octue_beam", "dockerfile", str(folder), "--target", "cloud-run"],
        cwd=REPOSITORY, capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == "FROM x\n"


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--target", "kubernetes"], "Unknown deployment target 'kubernetes': use one of cloud-run, dataflow."),
        (["--target", "dataflow", "--python", "3.9"], "No default Dockerfile for Python '3.9'"),
    ],
    ids=["target", "python"],
)
def test_the_dockerfile_command_explains_bad_arguments(service, arguments, message):
    completed = subprocess.run(
        [sys.executable, "-m", "octue_beam", "dockerfile", str(service), *arguments],
        cwd=REPOSITORY, capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 1
    assert message in completed.stderr


def test_the_dockerfile_commands_help_imports_neither_beam_nor_the_google_clients():
    modules = imported_modules("dockerfile", "--help")
    assert beam_modules(modules) == []
    assert [name for name in modules if name.startswith(("google.cloud", "grpc"))] == []
