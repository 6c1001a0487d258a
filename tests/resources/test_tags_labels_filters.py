"""Tags, labels and Django-style filters (no cloud needed)."""

import datetime

import pytest

from octue_beam.exceptions import (
    BrokenSequenceException,
    InvalidInputException,
    InvalidLabelException,
    InvalidTagException,
    UnexpectedNumberOfResultsException,
)
from octue_beam.resources import Datafile, FilterList, FilterSet, LabelSet, TagDict
from octue_beam.resources.filters import FilterDict

# --- tags and labels -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "height", "a1_b2", "0x"])
def test_valid_tag_names(name):
    assert TagDict({name: 1})[name] == 1


@pytest.mark.parametrize("name", ["", "_a", "a_", "A", "a-b", "a b", 3])
def test_invalid_tag_names_are_refused(name):
    with pytest.raises(InvalidTagException, match="Invalid tag name"):
        TagDict({name: 1})
    tags = TagDict()
    with pytest.raises(InvalidTagException):
        tags[name] = 1
    with pytest.raises(InvalidTagException):
        tags.update({name: 2})


@pytest.mark.parametrize("labels", [["a", "b-c"], "a b-c", '["a", "b-c"]', {"_type": "set", "items": ["a", "b-c"]}])
def test_label_set_accepts_several_forms(labels):
    assert LabelSet(labels) == {"a", "b-c"}


@pytest.mark.parametrize("label", ["-a", "a-", "A", "a_b", "a.b"])
def test_invalid_labels_are_refused(label):
    with pytest.raises(InvalidLabelException, match="Invalid label"):
        LabelSet([label])
    with pytest.raises(InvalidLabelException):
        LabelSet().add(label)


def test_any_label_helpers():
    labels = LabelSet(["met-mast", "raw"])
    assert labels.any_label_contains("t-m")
    assert labels.any_label_starts_with("me")
    assert labels.any_label_ends_with("aw")
    assert not labels.any_label_contains("xyz")


# --- filters ---------------------------------------------------------------------------------------


@pytest.fixture
def files(tmp_path):
    specs = [
        (
            "a.csv",
            {"height": 5, "manufacturer": "Vestas", "sequence": 1, "flag": True, "nothing": None, "values": [1, 2]},
            ["raw", "met-mast"],
            datetime.datetime(2020, 1, 6, 10, 30, 0),
        ),
        (
            "b.csv",
            {"height": 15, "manufacturer": "Vergnet", "sequence": 0, "flag": False, "nothing": None, "values": [3]},
            ["clean"],
            datetime.datetime(2021, 5, 1, 23, 0, 5),
        ),
        (
            "c.txt",
            {"height": 25, "manufacturer": "Enercon", "sequence": 2, "flag": True, "nothing": 1, "values": []},
            ["raw"],
            datetime.datetime(2022, 12, 31, 0, 0, 0),
        ),
    ]
    datafiles = []
    for name, tags, labels, timestamp in specs:
        (tmp_path / name).write_text(name)
        datafiles.append(Datafile(str(tmp_path / name), tags=tags, labels=labels, timestamp=timestamp))
    return FilterSet(datafiles)


def names(results):
    return sorted(file.name for file in results)


def test_number_filters(files):
    assert names(files.filter(tags__height__gt=10)) == ["b.csv", "c.txt"]
    assert names(files.filter(tags__height__gte=15)) == ["b.csv", "c.txt"]
    assert names(files.filter(tags__height__lt=15)) == ["a.csv"]
    assert names(files.filter(tags__height__lte=15)) == ["a.csv", "b.csv"]
    assert names(files.filter(tags__height__equals=25)) == ["c.txt"]
    assert names(files.filter(tags__height__not_equals=25)) == ["a.csv", "b.csv"]
    assert names(files.filter(tags__height__in_range=(10, 20))) == ["b.csv"]
    assert names(files.filter(tags__height__not_in_range=(10, 20))) == ["a.csv", "c.txt"]
    assert names(files.filter(tags__height=5)) == ["a.csv"]  # the equals shortcut
    assert names(files.filter(tags__height__is=5)) == ["a.csv"]
    assert names(files.filter(tags__height__is_not=5)) == ["b.csv", "c.txt"]


def test_string_filters(files):
    assert names(files.filter(name__ends_with=".csv")) == ["a.csv", "b.csv"]
    assert names(files.filter(name__not_ends_with=".csv")) == ["c.txt"]
    assert names(files.filter(name__starts_with="a")) == ["a.csv"]
    assert names(files.filter(name__not_starts_with="a")) == ["b.csv", "c.txt"]
    assert names(files.filter(tags__manufacturer__starts_with="V")) == ["a.csv", "b.csv"]
    assert names(files.filter(tags__manufacturer__iequals="vestas")) == ["a.csv"]
    assert names(files.filter(tags__manufacturer__not_iequals="vestas")) == ["b.csv", "c.txt"]
    assert names(files.filter(tags__manufacturer__contains="erg")) == ["b.csv"]
    assert names(files.filter(tags__manufacturer__not_contains="erg")) == ["a.csv", "c.txt"]
    assert names(files.filter(tags__manufacturer__icontains="ENER")) == ["c.txt"]
    assert names(files.filter(tags__manufacturer__not_icontains="ENER")) == ["a.csv", "b.csv"]
    assert names(files.filter(tags__manufacturer__lt="W")) == ["a.csv", "b.csv", "c.txt"]
    assert names(files.filter(tags__manufacturer__gt="Vestas")) == []
    assert names(files.filter(tags__manufacturer__in_range=("A", "F"))) == ["c.txt"]
    assert names(files.filter(name="b.csv")) == ["b.csv"]


def test_iterable_filters(files):
    assert names(files.filter(tags__values__contains=1)) == ["a.csv"]
    assert names(files.filter(tags__values__not_contains=1)) == ["b.csv", "c.txt"]
    assert names(files.filter(tags__values__equals=[3])) == ["b.csv"]
    assert names(files.filter(tags__values__not_equals=[3])) == ["a.csv", "c.txt"]


def test_label_set_filters(files):
    assert names(files.filter(labels__contains="raw")) == ["a.csv", "c.txt"]
    assert names(files.filter(labels__not_contains="raw")) == ["b.csv"]
    assert names(files.filter(labels__any_label_contains="mas")) == ["a.csv"]
    assert names(files.filter(labels__not_any_label_contains="mas")) == ["b.csv", "c.txt"]
    assert names(files.filter(labels__any_label_starts_with="cl")) == ["b.csv"]
    assert names(files.filter(labels__any_label_ends_with="ast")) == ["a.csv"]
    assert names(files.filter(labels__not_any_label_ends_with="ast")) == ["b.csv", "c.txt"]
    assert names(files.filter(labels__equals={"raw"})) == ["c.txt"]


def test_boolean_and_none_filters(files):
    assert names(files.filter(tags__flag__is=True)) == ["a.csv", "c.txt"]
    assert names(files.filter(tags__flag__is_not=True)) == ["b.csv"]
    assert names(files.filter(tags__flag__equals=False)) == ["b.csv"]
    assert names(files.filter(tags__nothing__is=None)) == ["a.csv", "b.csv"]
    assert names(files.filter(tags__nothing__not_equals=None)) == ["c.txt"]


def test_datetime_filters(files):
    assert names(files.filter(timestamp__gt=datetime.datetime(2021, 1, 1))) == ["b.csv", "c.txt"]
    assert names(files.filter(timestamp__lte=datetime.datetime(2021, 5, 1, 23, 0, 5))) == ["a.csv", "b.csv"]
    assert names(files.filter(timestamp__in_range=(datetime.datetime(2020, 1, 1), datetime.datetime(2021, 1, 1)))) == [
        "a.csv"
    ]
    assert names(files.filter(timestamp__year_equals=2022)) == ["c.txt"]
    assert names(files.filter(timestamp__year_in={2020, 2021})) == ["a.csv", "b.csv"]
    assert names(files.filter(timestamp__month_equals=5)) == ["b.csv"]
    assert names(files.filter(timestamp__month_in=[1, 12])) == ["a.csv", "c.txt"]
    assert names(files.filter(timestamp__day_equals=31)) == ["c.txt"]
    assert names(files.filter(timestamp__day_in=[1, 6])) == ["a.csv", "b.csv"]
    assert names(files.filter(timestamp__weekday_equals=0)) == ["a.csv"]  # 2020-01-06 was a Monday
    assert names(files.filter(timestamp__weekday_in=[5, 6])) == ["b.csv", "c.txt"]  # Saturdays
    assert names(files.filter(timestamp__iso_weekday_equals=1)) == ["a.csv"]
    assert names(files.filter(timestamp__iso_weekday_in=[6])) == ["b.csv", "c.txt"]
    assert names(files.filter(timestamp__time_equals=datetime.time(10, 30))) == ["a.csv"]
    assert names(files.filter(timestamp__time_in=[datetime.time(0, 0)])) == ["c.txt"]
    assert names(files.filter(timestamp__hour_equals=23)) == ["b.csv"]
    assert names(files.filter(timestamp__hour_in=[10, 23])) == ["a.csv", "b.csv"]
    assert names(files.filter(timestamp__minute_equals=30)) == ["a.csv"]
    assert names(files.filter(timestamp__minute_in=[0])) == ["b.csv", "c.txt"]
    assert names(files.filter(timestamp__second_equals=5)) == ["b.csv"]
    assert names(files.filter(timestamp__second_in=[0])) == ["a.csv", "c.txt"]
    assert names(files.filter(timestamp__in_date_range=(datetime.date(2021, 1, 1), datetime.date(2023, 1, 1)))) == [
        "b.csv",
        "c.txt",
    ]
    assert names(files.filter(timestamp__in_time_range=(datetime.time(9), datetime.time(12)))) == ["a.csv"]


def test_several_filters_are_anded(files):
    assert names(files.filter(labels__contains="raw", tags__height__gt=10)) == ["c.txt"]
    assert isinstance(files.filter(labels__contains="raw"), FilterSet)


def test_files_without_the_attribute_are_left_out(files):
    assert names(files.filter(tags__missing__gt=1)) == []


def test_unknown_filter_action_is_a_clear_error(files):
    with pytest.raises(InvalidInputException, match="no filter action 'bigger'.*Valid actions.*gt"):
        files.filter(tags__height__bigger=3)
    with pytest.raises(InvalidInputException, match="startswith"):
        files.filter(name__startswith="a")


def test_one(files):
    assert files.one(tags__height=15).name == "b.csv"
    with pytest.raises(UnexpectedNumberOfResultsException, match="No results"):
        files.one(tags__height=99)
    with pytest.raises(UnexpectedNumberOfResultsException, match="more than one"):
        files.one(labels__contains="raw")


def test_order_by_and_sequence_checks(files):
    ordered = files.order_by("tags__sequence", check_start_value=0, check_constant_increment=1)
    assert isinstance(ordered, FilterList)
    assert [file.name for file in ordered] == ["b.csv", "a.csv", "c.txt"]
    assert [file.name for file in files.order_by("tags.height", reverse=True)] == ["c.txt", "b.csv", "a.csv"]
    with pytest.raises(BrokenSequenceException, match="start value 1"):
        files.order_by("tags__sequence", check_start_value=1)
    with pytest.raises(BrokenSequenceException, match="do not increase by 2"):
        files.order_by("tags__sequence", check_constant_increment=2)
    with pytest.raises(InvalidInputException, match="no attribute"):
        files.order_by("tags__missing")
    assert [file.name for file in ordered.filter(name__ends_with=".csv")] == ["b.csv", "a.csv"]


def test_filter_dict(files):
    by_name = FilterDict({file.name: file for file in files})
    assert sorted(by_name.filter(tags__height__gt=10)) == ["b.csv", "c.txt"]
    assert by_name.one(tags__height=5)[0] == "a.csv"
    assert [key for key, _ in by_name.order_by("tags__height")] == ["a.csv", "b.csv", "c.txt"]
