"""The Cloud Run transport: Pub/Sub push envelopes received over HTTP, answered by the transport-free answering core
(`octue_beam.answering`), the same code the Beam DoFns use."""
