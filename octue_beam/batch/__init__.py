"""Batch questions: a whole file of questions answered by a bounded Beam pipeline through the same answering core as
the streaming service (`octue_beam.answering`), and regression re-runs of recorded questions (docs/batch.md).

    rows        the question rows of a file and the answer rows written back (columns, JSON columns, errors)
    files       reading question files (JSON lines or Parquet) row by row, and answer files back
    sink        `AnswerSink`: the event sink the core publishes to (nothing is sent anywhere)
    questions   a question row as the core's `Question`, checked as a Pub/Sub question is
    options     `BatchOptions` (--questions, --answers)
    transforms  ReadQuestionRows -> SpreadQuestionRows -> AnswerQuestionRows -> WriteAnswerRows, their private DoFns
    building    `build_batch_pipeline(options)`: the bounded pipeline and its plan
    progress    the progress channel from the workers to the progress bar
    running     `run_batch(options)`: run it with a progress bar, return the summary
    regression  recorded questions as question rows; new answers compared with recorded ones
    rerunning   `rerun_recorded(rows, options, service)`: recorded questions asked again as a batch, compared
    reports     the regression report (HTML or Markdown)
"""
