"""The wire protocol: attributes, events, parsing/validation, topics, subscriptions and publishing.

- `sruid`: service revision unique identifiers (`namespace/name:revision_tag`): validation, parsing, Pub/Sub form.
- `attributes`: typed <-> wire attributes, question/response attribute builders.
- `events`: event body builders.
- `parsing`: `parse_message`, `validate_event`, `is_addressed_to`, `best_effort_question_attributes`.
- `clients`: Pub/Sub clients for the real service or an explicit emulator host; the shared `PubSubClients`.
- `pubsub`: topic/subscription names and filters, `parse_topic`, `ensure_topic`, `ensure_subscription`,
  `ensure_service_resources`.
- `publishing`: `wire_message`, the `Publisher` interface, `OrderedBatchPublisher` (a service's events),
  `UnorderedPublisher` (questions) and `MemoryPublisher` (unit tests).
"""
