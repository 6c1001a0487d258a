"""`AskOptions` holds exactly the keyword options of `ask`, with the same defaults, so that `ask`,
`prepare_question`, `Child.ask` and `ask_multiple` can pass one value on."""

import dataclasses
import inspect

import pytest

from octue_beam.asking import Child, ask
from octue_beam.asking.asking import prepare_question
from octue_beam.asking.questions import AskOptions

FIELDS = {field.name: field.default for field in dataclasses.fields(AskOptions)}


def keyword_options(function) -> dict:
    parameters = inspect.signature(function).parameters.values()
    return {p.name: p.default for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY}


def test_ask_options_are_the_keyword_options_of_ask_with_the_same_defaults():
    assert keyword_options(ask) == FIELDS
    assert list(keyword_options(ask)) == list(FIELDS)


def test_prepare_question_takes_the_same_options_but_asynchronous():
    options = keyword_options(prepare_question)
    options.pop("_resolved")
    assert options == {name: default for name, default in FIELDS.items() if name != "asynchronous"}


def test_options_are_picked_from_arguments_and_unknown_names_are_refused():
    options = AskOptions.from_arguments({"service_id": "x", "timeout": 5, "max_retries": 2})
    assert options.timeout == 5 and options.max_retries == 2 and options.topic_name is None
    assert options.retry_policy().max_retries == 2
    with pytest.raises(TypeError):
        AskOptions(no_such_option=1)


def test_a_child_refuses_an_unknown_option_before_asking():
    with pytest.raises(TypeError):
        Child("my-org/child:1.0.0").ask({"n": 1}, no_such_option=True)
