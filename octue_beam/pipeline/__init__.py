"""The service engine: a service compiled into a Beam streaming pipeline answering questions over Pub/Sub.

    ReadQuestions -> CheckQuestions -> AnswerQuestions [-> RecordAnswers with --record_answers]
                         `-[invalid]-> RejectMessages -> WriteDeadLetters

See docs/engine.md. `build_service_pipeline(options)` builds it; `python -m octue_beam run` runs it.
"""

from octue_beam.pipeline.building import ServicePlan, build_service_pipeline, plan_service
from octue_beam.pipeline.options import ServiceOptions
from octue_beam.pipeline.runners import resolve_runner_name, select_runner

__all__ = [
    "ServiceOptions",
    "ServicePlan",
    "build_service_pipeline",
    "plan_service",
    "resolve_runner_name",
    "select_runner",
]
