"""The CLI's embedded local default: start the emulators that are needed and not already configured.

`with local_emulators() as local:` starts Google's Pub/Sub emulator when `PUBSUB_EMULATOR_HOST` is unset and no
cloud project is configured, and the Cloud Storage emulator (with the bucket `octue-beam-local`) when `storage` is
true (the default; `run` passes whether a served service or its question can use Cloud Storage,
`cli.supervising.needs_storage`), `STORAGE_EMULATOR_HOST` is unset and we are local (no project configured, or
Pub/Sub emulated). Everything started
is stopped on exit, on KeyboardInterrupt (the CLI turns SIGTERM into one) and at interpreter exit, and dies with this
process even when it is killed outright (`octue_beam.processes.die_with_parent`). `restart_stopped()` starts a fresh
emulator in place of one that died.
"""

import atexit
import contextlib
import dataclasses
import logging
import os
from collections.abc import Iterator

from octue_beam.emulators.pubsub import PubSubEmulator
from octue_beam.emulators.storage import StorageEmulator
from octue_beam.environment import LOCAL_BUCKET, LOCAL_PROJECT, configured_project

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class LocalEmulators:
    """What `local_emulators` started and the project to use."""

    project: str
    pubsub: PubSubEmulator | None = None  # when started here
    storage: StorageEmulator | None = None  # when started here
    bucket: str | None = None  # the default local bucket when the storage emulator was started here
    _stopped: bool = dataclasses.field(default=False, repr=False)

    @property
    def started(self) -> list[str]:
        """Names of the emulators started here (e.g. `["pubsub", "storage"]`)."""
        return [name for name in ("pubsub", "storage") if getattr(self, name) is not None]

    def restart_stopped(self) -> list[str]:
        """Start again, on the same port, each emulator started here whose process has died (a fresh, empty one);
        return their names. Raises EmulatorStartError when one cannot start (e.g. its port was taken)."""
        restarted = []
        for name in self.started:
            emulator = getattr(self, name)
            if not self._stopped and not emulator.running:
                emulator.stop()  # forget the dead process; the port is kept
                emulator.start()
                restarted.append(name)
                logger.warning("The %s emulator had stopped: started a fresh one on port %s.", name, emulator.port)
        return restarted

    def stop(self) -> None:
        """Stop what was started here. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        for emulator in (self.storage, self.pubsub):
            if emulator is not None:
                try:
                    emulator.stop()
                except Exception:  # stop the others anyway
                    logger.exception("Could not stop %r.", emulator)
        try:
            atexit.unregister(self.stop)
        except Exception:  # noqa: BLE001
            pass


@contextlib.contextmanager
def local_emulators(project: str | None = None, storage: bool = True) -> Iterator[LocalEmulators]:
    """Start the local emulators that are needed (the storage emulator only with `storage`); yield a LocalEmulators;
    stop them on exit."""
    configured = configured_project(project)
    local = LocalEmulators(project=configured or LOCAL_PROJECT)
    atexit.register(local.stop)
    try:
        if not os.environ.get("PUBSUB_EMULATOR_HOST") and not configured:
            local.pubsub = PubSubEmulator().start()
            logger.info("Started the Pub/Sub emulator on %s (project %r).", local.pubsub.host_port, local.project)
        # Local mode (no project, or Pub/Sub emulated): Cloud Storage is emulated too unless already configured.
        local_mode = not configured or bool(os.environ.get("PUBSUB_EMULATOR_HOST"))
        if storage and local_mode and not os.environ.get("STORAGE_EMULATOR_HOST"):
            # In a subprocess, so that the emulator does not share the GIL with Beam.
            local.storage = StorageEmulator(default_bucket=LOCAL_BUCKET, mode="subprocess")
            local.storage.start()
            local.bucket = LOCAL_BUCKET
            logger.info("Started the Cloud Storage emulator on %s (bucket %r).", local.storage.endpoint, LOCAL_BUCKET)
        yield local
    finally:
        local.stop()
