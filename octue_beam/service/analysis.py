"""`Analysis`: what an app gets — its configuration, the question's inputs, places for outputs, children.

Same attributes and methods as the Octue SDK's Analysis, so app code only changes its imports. Differences:
only `None` counts as "no output" (`0`, `[]`, `{}` are outputs), and output datasets are uploaded under
`<output_location>/<question uuid>/<dataset key>` instead of a random slug.
"""

import logging
import threading
import uuid as uuid_module
from collections.abc import Callable
from typing import Any

from octue_beam import serialisation
from octue_beam.messaging import events
from octue_beam.resources.hashing import hash_value
from octue_beam.twine import Twine

logger = logging.getLogger(__name__)


class Analysis:
    """One run of an app on one question.

    :param twine: the service's twine
    :param handle_monitor_message: called with each validated monitor message (in a service: publishes it)
    :param id: the question UUID (a new one when not given)
    :param output_location: `gs://` path under which output datasets are uploaded at `finalise()`
    """

    def __init__(
        self,
        twine: Twine,
        *,
        id: str | None = None,
        configuration_values: Any = None,
        configuration_manifest: Any = None,
        input_values: Any = None,
        input_manifest: Any = None,
        children: dict | None = None,
        output_values: Any = None,
        output_manifest: Any = None,
        output_location: str | None = None,
        use_signed_urls_for_output_datasets: bool = False,
        handle_monitor_message: Callable[[Any], None] | None = None,
    ) -> None:
        self.twine = twine if isinstance(twine, Twine) else Twine(source=twine)
        self.id = str(uuid_module.UUID(str(id))) if id is not None else str(uuid_module.uuid4())
        self.configuration_values = configuration_values
        self.configuration_manifest = configuration_manifest
        self.input_values = input_values
        self.input_manifest = input_manifest
        self.children = children if children is not None else {}
        self.output_values = output_values
        self.output_manifest = output_manifest
        self.output_location = output_location
        self.use_signed_urls_for_output_datasets = use_signed_urls_for_output_datasets
        self._handle_monitor_message = handle_monitor_message
        self._periodic_monitors: list[threading.Event] = []
        self._finalised = False

        self.configuration_values_hash = hash_value(configuration_values)
        self.configuration_manifest_hash = hash_value(configuration_manifest)
        self.input_values_hash = hash_value(input_values)
        self.input_manifest_hash = hash_value(input_manifest)

    @property
    def finalised(self) -> bool:
        """True once `finalise()` has validated (and uploaded) the outputs."""
        return self._finalised

    # --- monitor messages ---------------------------------------------------------------------------

    def send_monitor_message(self, data: Any) -> None:
        """Validate `data` against the twine's `monitor_message_schema` and send it to the parent."""
        self.twine.validate_monitor_message(data, loaded=True)
        if self._handle_monitor_message is None:
            logger.warning("Monitor message not sent: this analysis has no monitor message handler.")
            return
        self._handle_monitor_message(serialisation.to_json_compatible(data))

    def set_up_periodic_monitor_message(self, create_monitor_message: Callable[[], Any], period: float = 60) -> None:
        """Send `create_monitor_message()` every `period` seconds until the app finishes."""
        stop = threading.Event()
        self._periodic_monitors.append(stop)

        def repeat() -> None:
            while not stop.wait(period):
                try:
                    self.send_monitor_message(create_monitor_message())
                except Exception:  # a failing monitor must not kill the analysis
                    logger.exception("Periodic monitor message failed.")

        threading.Thread(target=repeat, name=f"monitor-{self.id[:8]}", daemon=True).start()

    def stop_periodic_monitor_messages(self) -> None:
        for stop in self._periodic_monitors:
            stop.set()
        self._periodic_monitors.clear()

    # --- outputs ------------------------------------------------------------------------------------

    def finalise(self, upload_output_datasets_to: str | None = None, use_signed_urls: bool | None = None) -> None:
        """Validate the outputs against the twine and upload output datasets.

        Only None counts as "no output". Datasets go to `upload_output_datasets_to/<key>` when given, else to
        `<output_location>/<question uuid>/<key>` when the service has an output location.
        """
        output_values = None if self.output_values is None else serialisation.to_json_compatible(self.output_values)
        output_manifest = self.output_manifest
        self.twine.validate(output_values=output_values, output_manifest=output_manifest, loaded=True)
        if output_manifest is not None:
            self.twine.validate_file_tags("output_manifest", output_manifest)

        destination = upload_output_datasets_to
        if destination is None and self.output_location:
            destination = f"{self.output_location.rstrip('/')}/{self.id}"
        if output_manifest is not None and destination:
            for key, dataset in output_manifest.datasets.items():
                dataset.upload(f"{destination.rstrip('/')}/{key}")
            signed = self.use_signed_urls_for_output_datasets if use_signed_urls is None else use_signed_urls
            if signed:
                output_manifest.use_signed_urls_for_datasets()
        self._finalised = True

    def result_event(self) -> dict:
        """The `result` event of this analysis (outputs as sent to the parent)."""
        output_values = None if self.output_values is None else serialisation.to_json_compatible(self.output_values)
        return events.result(output_values=output_values, output_manifest=self.output_manifest)

    def __repr__(self) -> str:
        return f"<Analysis {self.id}>"
