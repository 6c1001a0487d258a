"""The time limits both sides of the protocol agree on by default.

A service answers a question that runs longer than its time limit with a `QuestionTimeLimitExceeded` exception
(`question_timeout` in octue.yaml or the pipeline option `--question_timeout`, an octue_beam addition); a parent's
default wait for an answer follows that limit plus a margin, so by default a parent hears the exception of a stuck
question instead of giving up first (or waiting a day, as Octue's 86,400 s default does).

One hour is the default limit: it is Cloud Run's longest request timeout, which every Octue service deployed there
already lives within, and long enough for typical analyses; services whose questions take longer raise it. The
margin covers what happens outside the time limit: delivery to the service, a wait in its queue while every slot is
busy, and publishing the answer.
"""

DEFAULT_QUESTION_TIMEOUT = 3600.0
ASK_TIMEOUT_MARGIN = 600.0
DEFAULT_ASK_TIMEOUT = DEFAULT_QUESTION_TIMEOUT + ASK_TIMEOUT_MARGIN
