"""Every error octue_beam raises on purpose, named after the Octue SDK's so app code keeps working.

Messages always say what is wrong and where (the strand, the file, the JSON path, the key).
"""


class OctueBeamError(Exception):
    """Base class of octue_beam's own errors."""


# --- Twines and strands ------------------------------------------------------------------------


class TwineException(OctueBeamError):
    """Base class of errors about twines and the data validated against them."""


class TwineValueException(TwineException, ValueError):
    """A value given for a strand is wrong (e.g. required data missing)."""


class TwineTypeException(TwineException, TypeError):
    """A value of the wrong type was given where a twine or strand was expected."""


class TwineVersionConflict(TwineException):
    """The twine asks for a different `twined_version` than this package supports."""


class InvalidTwine(TwineException):
    """The twine itself is not valid."""


class InvalidTwineJson(InvalidTwine):
    """The twine is not valid JSON (or has duplicate keys)."""


class InvalidTwineContents(InvalidTwine):
    """The twine is valid JSON but does not follow the twine meta-schema."""


class InvalidSourceKindException(TwineException, TypeError):
    """A twine or strand source was given in a form that cannot be loaded."""


class UnknownStrand(TwineException, ValueError):
    """A strand name is not one that twines can have."""


class StrandNotFound(TwineException, KeyError):
    """Data was given for a strand that the twine does not define."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable.
        return str(self.args[0]) if self.args else ""


class CredentialNotFound(TwineException):
    """A credential named in the twine is in neither the environment, a .env file nor Secret Manager."""


class InvalidValues(TwineException, ValueError):
    """Base class of errors about values strands."""


class InvalidValuesJson(InvalidValues):
    """Values are not valid JSON."""


class InvalidValuesContents(InvalidValues):
    """Values do not satisfy the strand's JSON schema."""


class InvalidManifest(TwineException, ValueError):
    """Base class of errors about manifest strands."""


class InvalidManifestJson(InvalidManifest):
    """A manifest is not valid JSON."""


class InvalidManifestType(InvalidManifest):
    """A manifest was given as something that is not a manifest."""


class InvalidManifestContents(InvalidManifest):
    """A manifest lacks a required dataset, or a file's tags break the dataset's file_tags_template."""


class InvalidMonitorMessage(InvalidValuesContents):
    """A monitor message does not satisfy the twine's monitor_message_schema (an InvalidValuesContents, as in Octue)."""


# --- Services -------------------------------------------------------------------------------------


class InvalidServiceConfiguration(OctueBeamError, ValueError):
    """octue.yaml or the app configuration file is missing, unreadable or has a bad value."""


class InvalidServiceID(OctueBeamError, ValueError):
    """A service ID or SRUID does not have the form `namespace/name[:revision_tag]`."""


class MissingServiceID(OctueBeamError, ValueError):
    """A service ID was needed but not given."""


class ServiceNotFound(OctueBeamError):
    """A service (or the services topic) could not be found."""


class ServiceAlreadyExists(OctueBeamError):
    """A service with this SRUID is already being served."""


class InvalidApp(OctueBeamError):
    """app.py could not be loaded, or has no (or more than one) entrypoint."""


class BackendNotFound(OctueBeamError, ValueError):
    """A child's backend is not one octue_beam knows."""


class CloudLocationNotSpecified(OctueBeamError, ValueError):
    """A cloud project or location was needed but not given."""


# --- Data resources -------------------------------------------------------------------------------


class InvalidTagException(OctueBeamError, ValueError):
    """A tag name is not valid (`^[a-z0-9][a-z0-9_]*$`, not ending in `_`)."""


class InvalidLabelException(OctueBeamError, ValueError):
    """A label is not valid (`^[a-z0-9][a-z0-9-]*$`, not ending in `-`)."""


class InvalidInputException(OctueBeamError, ValueError):
    """Bad input to a data resource (e.g. an unknown filter action)."""


class UnexpectedNumberOfResultsException(OctueBeamError):
    """`one()` found zero or several results."""


class BrokenSequenceException(OctueBeamError):
    """`order_by` found a sequence that does not start or step as required."""


class ReadOnlyResource(OctueBeamError):
    """A write was attempted on a read-only resource (e.g. a signed-URL datafile)."""


class FileLocationError(OctueBeamError):
    """Local files were about to be sent to another service without permission."""


class UnsafePath(OctueBeamError, ValueError):
    """A path would read or write outside the folders the service owns (`..`, absolute, symlink)."""


class CloudStorageError(OctueBeamError):
    """A Cloud Storage operation failed."""


# --- Messaging, emulators and asking --------------------------------------------------------------


class InvalidEvent(OctueBeamError, ValueError):
    """A Pub/Sub message is not a valid event of the wire protocol."""


class QuestionNotForThisService(InvalidEvent):
    """A message is not a question addressed to this service (it is ignored, never answered)."""


class EmulatorNotFound(OctueBeamError):
    """An emulator program is not installed."""


class EmulatorStartError(OctueBeamError):
    """An emulator did not start or did not answer in time."""


class QuestionTimeout(OctueBeamError, TimeoutError):
    """No answer (or no heartbeat) arrived in time."""


class QuestionTimeLimitExceeded(OctueBeamError, TimeoutError):
    """A service stopped answering a question that ran longer than its time limit (`question_timeout`)."""


class ServiceStopped(OctueBeamError):
    """A service's process ended (it crashed, was killed or was stopped) while answering a question: the question
    was not answered. Sent by the `run` command that supervised it; asking again (or `max_retries`) may succeed."""


class RemoteException(OctueBeamError):
    """An exception raised in a child whose type is not known here."""
