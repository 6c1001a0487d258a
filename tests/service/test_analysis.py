import threading

import pytest

from octue_beam import Analysis, Twine, exceptions
from octue_beam.resources.hashing import hash_value

TWINE = {
    "input_values_schema": {"type": "object"},
    "output_values_schema": {"type": ["object", "array", "number"], "properties": {"n": {"type": "integer"}}},
    "monitor_message_schema": {
        "type": "object",
        "properties": {"progress": {"type": "number"}},
        "required": ["progress"],
    },
}


def test_attributes_and_hashes():
    analysis = Analysis(
        Twine(source=TWINE),
        id="8ead7669-8162-4f64-8cd5-4abe92509e17",
        input_values={"a": 1},
        configuration_values={"b": 2},
    )
    assert analysis.id == "8ead7669-8162-4f64-8cd5-4abe92509e17"
    assert analysis.input_values == {"a": 1}
    assert analysis.input_values_hash == hash_value({"a": 1}) != hash_value({"a": 2})
    assert analysis.configuration_values_hash == hash_value({"b": 2})
    assert analysis.input_manifest_hash is None and analysis.configuration_manifest_hash is None
    assert analysis.children == {}
    assert not analysis.finalised


def test_id_must_be_a_uuid():
    with pytest.raises(ValueError):
        Analysis(Twine(source=TWINE), id="not-a-uuid")


def test_monitor_messages_are_validated_and_handed_on():
    sent = []
    analysis = Analysis(Twine(source=TWINE), handle_monitor_message=sent.append)
    analysis.send_monitor_message({"progress": 0.5})
    assert sent == [{"progress": 0.5}]
    with pytest.raises(exceptions.InvalidMonitorMessage, match=r"\$\.progress"):
        analysis.send_monitor_message({"progress": "half"})


def test_monitor_message_without_a_strand():
    with pytest.raises(exceptions.StrandNotFound):
        Analysis(Twine(source={}), handle_monitor_message=print).send_monitor_message({"progress": 1})


def test_periodic_monitor_messages_stop_when_asked():
    sent = []
    three = threading.Event()

    def handle(message):
        sent.append(message)
        if len(sent) == 3:
            three.set()

    analysis = Analysis(Twine(source=TWINE), handle_monitor_message=handle)
    analysis.set_up_periodic_monitor_message(lambda: {"progress": len(sent)}, period=0.01)
    assert three.wait(10)
    analysis.stop_periodic_monitor_messages()
    count = len(sent)
    threading.Event().wait(0.1)
    assert len(sent) <= count + 1
    assert sent[:3] == [{"progress": 0}, {"progress": 1}, {"progress": 2}]


@pytest.mark.parametrize("falsy", [0, [], {}])
def test_falsy_outputs_are_outputs(falsy):
    analysis = Analysis(Twine(source=TWINE), output_values=falsy)
    analysis.finalise()
    assert analysis.finalised
    assert analysis.result_event() == {"kind": "result", "output_values": falsy}


def test_only_none_is_no_output():
    with pytest.raises(exceptions.TwineValueException, match="'output_values' strand is defined in the twine"):
        Analysis(Twine(source=TWINE), output_values=None).finalise()


def test_falsy_output_is_still_validated():
    twine = Twine(source={"output_values_schema": {"type": "object", "required": ["n"]}})
    with pytest.raises(exceptions.InvalidValuesContents, match="'n' is a required property"):
        Analysis(twine, output_values={}).finalise()


def test_invalid_output_names_the_path():
    with pytest.raises(exceptions.InvalidValuesContents, match=r"output_values data is invalid at \$\.n"):
        Analysis(Twine(source=TWINE), output_values={"n": "x"}).finalise()


def test_output_values_with_sets_are_encoded_before_validation():
    twine = Twine(source={"output_values_schema": {"type": "object", "properties": {"s": {"type": "object"}}}})
    analysis = Analysis(twine, output_values={"s": {1, 2}})
    analysis.finalise()
    assert analysis.result_event()["output_values"] == {"s": {"_type": "set", "items": [1, 2]}}
