"""The Cloud Run transport: Pub/Sub push envelopes received over HTTP, answered by the transport-free answering core
(`octue_beam.answering`), the same code the Beam DoFns use.

    POST / (push envelope) --parse_envelope--> PushedMessage --PushHandler.handle--> check_message ->
        Answerer.reject | QuestionRunner.submit -> PendingAnswer.wait() --> Outcome (HTTP status, one line)

- `envelopes`: `parse_envelope`, `PushedMessage`, `InvalidEnvelope` (the request body).
- `handling`: `PushHandler` (one per process: the Answerer, the runner, the questions in flight that a redelivery
  waits for) and `Outcome`.
- `wsgi`: `PushApp`, the WSGI application (POST /, GET / and /health).
- `server`: `ServerSettings`, `PushServer` (gunicorn: one worker process, a thread per running or queued question,
  no worker timeout, graceful SIGTERM) and `serve`, which `python -m octue_beam serve` calls.

Where push delivery differs from the pipeline (a push ack deadline of at most 600 s, so longer questions are pushed
again and the redelivery waits; deduplication per instance) is said in `handling`.
"""
