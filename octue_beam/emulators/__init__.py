"""Local emulators of Google Pub/Sub and Cloud Storage, started and stopped from Python.

- `octue_beam.emulators.pubsub.PubSubEmulator`: Google's Pub/Sub emulator (Java) in its own process group.
- `octue_beam.emulators.storage.StorageEmulator`: gcp-storage-emulator.
- `octue_beam.emulators.local.local_emulators`: start what the CLI's local default needs.
"""
