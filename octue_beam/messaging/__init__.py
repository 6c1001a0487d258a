"""The wire protocol: attributes, events, parsing/validation, topics, subscriptions and publishing.

- `attributes`: typed <-> wire attributes, question/response attribute builders.
- `events`: event body builders.
- `parsing`: `parse_message`, `validate_event`, `is_addressed_to`, `best_effort_question_attributes`.
- `pubsub`: topic/subscription names and filters, `ensure_topic`, `ensure_subscription`, `EventPublisher`.
"""
