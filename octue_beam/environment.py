"""Project and environment defaults shared by every layer: which Google Cloud project is configured, and the
project and bucket used when running locally on emulators.

It sits at the bottom of the package (imports nothing of octue_beam), so storage, messaging, asking and the pipeline
can all use it without depending on `emulators`.
"""

import os

LOCAL_PROJECT = "octue-beam-local"
LOCAL_BUCKET = "octue-beam-local"

PROJECT_VARIABLES = ("GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "GCP_PROJECT")
PUBSUB_EMULATOR_VARIABLE = "PUBSUB_EMULATOR_HOST"


def configured_project(project: str | None = None) -> str | None:
    """The cloud project given or configured in the environment, if any."""
    if project:
        return project
    for name in PROJECT_VARIABLES:
        if os.environ.get(name):
            return os.environ[name]
    return None


def pubsub_emulator_host() -> str:
    """The Pub/Sub emulator's `host:port` from `PUBSUB_EMULATOR_HOST`, or "" for the real Pub/Sub."""
    return os.environ.get(PUBSUB_EMULATOR_VARIABLE, "")
