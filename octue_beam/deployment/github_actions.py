"""Deploy on every push to main with GitHub Actions: the workflow equivalent of `cloud_build.cloudbuild_config`, for
repositories that deploy from GitHub rather than from a Cloud Build trigger (docs/deployment.md).

On each push to the branch, one job on `ubuntu-latest`: check out; authenticate to Google Cloud with
`google-github-actions/auth` through Workload Identity Federation (no key: the job's OIDC token is exchanged for the
deployer service account's credentials, hence `permissions: id-token: write`); `google-github-actions/setup-gcloud`;
Python with octue_beam and its deploy extra; the revision tag (the commit's short SHA, `${GITHUB_SHA::7}`, unless a
tag is given); the default Dockerfile (unless octue.yaml gives `dockerfile_path`), written outside the checkout;
`docker build` with the service folder as the context, `docker push`; and `python -m octue_beam deploy <target>`.

The Workload Identity provider and the deployer service account are the workflow's inputs: given as options, or read
from the repository variables `GCP_WORKLOAD_IDENTITY_PROVIDER` and `GCP_DEPLOYER_SERVICE_ACCOUNT` by default.
"""

import shlex
from typing import Any

from octue_beam.deployment.cloud_build import (
    DATAFLOW_NOTE,
    BuildPlan,
    deploy_arguments,
    dockerfile_arguments,
    header,
    install_command,
    to_yaml,
)

CHECKOUT = "actions/checkout@v4"
AUTH = "google-github-actions/auth@v2"
SETUP_GCLOUD = "google-github-actions/setup-gcloud@v2"
SETUP_PYTHON = "actions/setup-python@v5"
DEFAULT_PROVIDER = "${{ vars.GCP_WORKLOAD_IDENTITY_PROVIDER }}"
DEFAULT_SERVICE_ACCOUNT = "${{ vars.GCP_DEPLOYER_SERVICE_ACCOUNT }}"
#: Where octue_beam is installed, and the default Dockerfile written: outside the checkout.
VENV = "$RUNNER_TEMP/octue-beam"
GENERATED_DOCKERFILE = '"$RUNNER_TEMP/Dockerfile"'


def registry_host(image: str) -> str | None:
    """The registry `gcloud auth configure-docker` must log Docker in to (`europe-west1-docker.pkg.dev`, `gcr.io`),
    None for an image elsewhere (Docker Hub, another registry: log in to it yourself)."""
    host = image.split("/", 1)[0]
    if "/" in image and (host.endswith("-docker.pkg.dev") or host == "gcr.io" or host.endswith(".gcr.io")):
        return host
    return None


def workflow(
    plan: BuildPlan,
    branch: str = "main",
    workload_identity_provider: str | None = None,
    service_account: str | None = None,
) -> dict[str, Any]:
    """The workflow (as a mapping) that builds, pushes and deploys the revision of each push to `branch`."""
    environment: dict[str, str] = {"SERVICE_DIR": plan.service_dir, "IMAGE": plan.image}
    if plan.revision_tag:
        environment["REVISION_TAG"] = plan.revision_tag
    python = f'"{VENV}/bin/python"'
    steps: list[dict[str, Any]] = [
        {"uses": CHECKOUT},
        {
            "id": "auth",
            "uses": AUTH,
            "with": {
                "workload_identity_provider": workload_identity_provider or DEFAULT_PROVIDER,
                "service_account": service_account or DEFAULT_SERVICE_ACCOUNT,
            },
        },
        {"uses": SETUP_GCLOUD},
        {"uses": SETUP_PYTHON, "with": {"python-version": plan.python_version}},
        {
            "name": "Install octue_beam",
            "working-directory": plan.service_dir,  # a wheel path in the requirement is relative to the service folder
            "run": install_command(plan, VENV),
        },
    ]
    if not plan.revision_tag:
        steps.append(
            {
                "name": "Revision tag: the commit's short SHA",
                "run": 'echo "REVISION_TAG=${GITHUB_SHA::7}" >> "$GITHUB_ENV"',
            }
        )
    if plan.dockerfile is None:
        step: dict[str, Any] = {
            "name": "Write the default Dockerfile",
            "run": f"{python} -m octue_beam " + " ".join(dockerfile_arguments(plan, GENERATED_DOCKERFILE, shlex.quote)),
        }
        if plan.service:
            step["env"] = {"OCTUE_SERVICE_NAME": plan.service}
        steps.append(step)
        dockerfile = GENERATED_DOCKERFILE
    else:
        dockerfile = shlex.quote(plan.dockerfile)
    host = registry_host(plan.image)
    if host:
        steps.append({"name": "Let Docker push to the registry", "run": f"gcloud auth configure-docker {host} --quiet"})
    image = '"$IMAGE:$REVISION_TAG"'
    steps += [
        {
            "name": "Build the image",
            "run": f'docker build --file {dockerfile} --tag {image} "$SERVICE_DIR"',
        },
        {"name": "Push the image", "run": f"docker push {image}"},
        {
            "name": "Deploy the revision",
            "run": f"{python} -m octue_beam " + " ".join(deploy_arguments(plan, image, '"$REVISION_TAG"', shlex.quote)),
        },
    ]
    what = "Cloud Run" if plan.target == "cloud-run" else "Dataflow"
    return {
        "name": f"Deploy {plan.sruid_prefix} to {what}",
        "on": {"push": {"branches": [branch]}},
        "permissions": {"contents": "read", "id-token": "write"},
        "concurrency": {"group": f"deploy-{plan.sruid_prefix.replace('/', '-')}-{plan.target}"},
        "jobs": {"deploy": {"runs-on": "ubuntu-latest", "env": environment, "steps": steps}},
    }


def workflow_text(
    plan: BuildPlan,
    command: str,
    branch: str = "main",
    workload_identity_provider: str | None = None,
    service_account: str | None = None,
) -> str:
    """The workflow file, with a header saying what it does, what it needs and the command that wrote it."""
    description = [
        f"On each push to {branch}: builds the image of {plan.sruid_prefix} ({plan.service_dir}), pushes it as "
        f"{plan.image}:<revision tag> and deploys that revision ({plan.target}).",
        "The revision tag is "
        + (f"{plan.revision_tag}." if plan.revision_tag else "the commit's short SHA: every push is a new revision."),
        "Authenticates with Workload Identity Federation: "
        + (
            "set the repository variables GCP_WORKLOAD_IDENTITY_PROVIDER and GCP_DEPLOYER_SERVICE_ACCOUNT."
            if not (workload_identity_provider and service_account)
            else "the provider and service account below."
        ),
    ]
    if plan.target == "dataflow":
        description.append(DATAFLOW_NOTE)
    document = workflow(plan, branch, workload_identity_provider, service_account)
    return header(description, command) + to_yaml(document)
