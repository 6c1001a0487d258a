"""Django-style filtering of datafiles (or any objects): `files.filter(tags__height__gt=10, labels__contains="raw")`.

A filter name is `<attribute>[__<nested attribute or dict key>...]__<action>`; `attr=value` alone means `equals`.
Several filters are ANDed. The actions available depend on the type of the value filtered on (as in Octue):
numbers, strings, iterables, label sets, booleans/None and datetimes. Items lacking the attribute are left out.
"""

import collections.abc
import datetime
import itertools
import numbers
from collections.abc import Callable, Iterable
from typing import Any

from octue_beam.exceptions import BrokenSequenceException, InvalidInputException, UnexpectedNumberOfResultsException
from octue_beam.resources.labels import LabelSet

Action = Callable[[Any, Any], bool]

_MISSING = object()


def _with_negation(name: str, action: Action) -> dict[str, Action]:
    negated = "is_not" if name == "is" else f"not_{name}"
    return {name: action, negated: lambda item, value: not action(item, value)}


_IS = _with_negation("is", lambda item, value: item is value)
_EQUALS = _with_negation("equals", lambda item, value: item == value)
_CONTAINS = _with_negation("contains", lambda item, value: value in item)
_ICONTAINS = _with_negation("icontains", lambda item, value: value.casefold() in item.casefold())
_IN_RANGE = _with_negation("in_range", lambda item, value: value[0] <= item <= value[1])
_COMPARISONS = {
    "lt": lambda item, value: item < value,
    "lte": lambda item, value: item <= value,
    "gt": lambda item, value: item > value,
    "gte": lambda item, value: item >= value,
}


def _datetime_part(name: str, get: Callable[[datetime.datetime], Any]) -> dict[str, Action]:
    return {
        f"{name}_equals": lambda item, value: get(item) == value,
        f"{name}_in": lambda item, value: get(item) in value,
    }


NUMBER_ACTIONS = {**_EQUALS, **_COMPARISONS, **_IS, **_IN_RANGE}
STRING_ACTIONS = {
    **_with_negation("iequals", lambda item, value: item.casefold() == value.casefold()),
    **_with_negation("starts_with", lambda item, value: item.startswith(value)),
    **_with_negation("ends_with", lambda item, value: item.endswith(value)),
    **_EQUALS,
    **_IS,
    **_COMPARISONS,
    **_CONTAINS,
    **_ICONTAINS,
    **_IN_RANGE,
}
BOOLEAN_AND_NONE_ACTIONS = {**_EQUALS, **_IS}
ITERABLE_ACTIONS = {**_EQUALS, **_CONTAINS, **_ICONTAINS, **_IS}
LABEL_SET_ACTIONS = {
    **_EQUALS,
    **_CONTAINS,
    **_IS,
    **_with_negation("any_label_contains", lambda item, value: item.any_label_contains(value)),
    **_with_negation("any_label_starts_with", lambda item, value: item.any_label_starts_with(value)),
    **_with_negation("any_label_ends_with", lambda item, value: item.any_label_ends_with(value)),
}
DATETIME_ACTIONS = {
    **_EQUALS,
    **_IS,
    **_COMPARISONS,
    **_IN_RANGE,
    **_datetime_part("year", lambda d: d.year),
    **_datetime_part("month", lambda d: d.month),
    **_datetime_part("day", lambda d: d.day),
    **_datetime_part("weekday", lambda d: d.weekday()),
    **_datetime_part("iso_weekday", lambda d: d.isoweekday()),
    **_datetime_part("time", lambda d: d.time()),
    **_datetime_part("hour", lambda d: d.hour),
    **_datetime_part("minute", lambda d: d.minute),
    **_datetime_part("second", lambda d: d.second),
    "in_date_range": lambda item, value: value[0] <= item.date() <= value[1],
    "in_time_range": lambda item, value: value[0] <= item.time() <= value[1],
}


def actions_for(value: Any) -> dict[str, Action]:
    """The filter actions available for a value of this type."""
    if value is None or isinstance(value, bool):
        return BOOLEAN_AND_NONE_ACTIONS
    if isinstance(value, LabelSet):
        return LABEL_SET_ACTIONS
    if isinstance(value, str):
        return STRING_ACTIONS
    if isinstance(value, datetime.datetime):
        return DATETIME_ACTIONS
    if isinstance(value, numbers.Number):
        return NUMBER_ACTIONS
    if isinstance(value, collections.abc.Iterable):
        return ITERABLE_ACTIONS
    raise InvalidInputException(f"Values of type {type(value).__name__!r} cannot be filtered on (value {value!r}).")


def get_nested(obj: Any, path: list[str]) -> Any:
    """Follow attribute names and dict keys along `path`; return _MISSING if any step is absent."""
    for name in path:
        if isinstance(obj, collections.abc.Mapping):
            obj = obj.get(name, _MISSING)
        else:
            obj = getattr(obj, name, _MISSING)
        if obj is _MISSING:
            return _MISSING
    return obj


class Filter:
    """One parsed filter: the attribute path, the action name and the value to compare with."""

    __slots__ = ("name", "path", "action", "value", "_shortcut_path")

    def __init__(self, name: str, value: Any):
        parts = name.split("__")
        if not all(parts):
            raise InvalidInputException(f"Invalid filter name {name!r}: empty part between '__' separators.")
        self.name = name
        self.value = value
        if len(parts) == 1:
            self.path, self.action, self._shortcut_path = parts, "equals", None
        else:
            self.path, self.action, self._shortcut_path = parts[:-1], parts[-1], parts

    def __call__(self, item: Any) -> bool:
        attribute = get_nested(item, self.path)
        if attribute is not _MISSING:
            actions = actions_for(attribute)
            action = actions.get(self.action)
            if action is not None:
                return bool(action(attribute, self.value))
        # `a__b=value` is the shortcut for `a__b__equals=value` when `b` is an attribute or key rather than an action.
        if self._shortcut_path is not None:
            whole = get_nested(item, self._shortcut_path)
            if whole is not _MISSING and not callable(whole):
                return bool(actions_for(whole)["equals"](whole, self.value))
        if attribute is _MISSING:
            return False
        raise InvalidInputException(
            f"There is no filter action {self.action!r} for the attribute {'__'.join(self.path)!r} of type "
            f"{type(attribute).__name__!r} (filter {self.name!r}). Valid actions for this type: "
            f"{', '.join(sorted(actions_for(attribute)))}."
        )


def compile_filters(filters: dict[str, Any]) -> list[Filter]:
    """Parse filter keyword arguments into Filter objects."""
    return [Filter(name, value) for name, value in filters.items()]


def _matches(item: Any, compiled: list[Filter]) -> bool:
    return all(filter_(item) for filter_ in compiled)


class FilterContainer:
    """Mixin for filterable containers (FilterSet, FilterList)."""

    def filter(self, ignore_items_without_attribute: bool = True, **filters: Any) -> Any:
        """A new container of the same type with the items satisfying every filter."""
        if not filters:
            return type(self)(self)
        compiled = compile_filters(filters)
        if not ignore_items_without_attribute:
            for item in self:
                for filter_ in compiled:
                    if get_nested(item, filter_.path) is _MISSING and (
                        filter_._shortcut_path is None or get_nested(item, filter_._shortcut_path) is _MISSING
                    ):
                        raise AttributeError(f"{item!r} has no attribute {'__'.join(filter_.path)!r}.")
        return type(self)(item for item in self if _matches(item, compiled))

    def one(self, **filters: Any) -> Any:
        """The only item satisfying the filters; UnexpectedNumberOfResultsException if none or several."""
        results = self.filter(**filters) if filters else self
        if len(results) != 1:
            found = "No results" if len(results) == 0 else f"{len(results)} results (more than one)"
            raise UnexpectedNumberOfResultsException(f"{found} found for filters {filters!r} in {len(self)} items.")
        return next(iter(results))

    def order_by(
        self,
        attribute_name: str,
        check_start_value: Any = None,
        check_constant_increment: Any = None,
        reverse: bool = False,
    ) -> "FilterList":
        """The items sorted by an (optionally nested, `__`- or `.`-separated) attribute, as a FilterList.

        `check_start_value`/`check_constant_increment` raise BrokenSequenceException if the first value or the
        steps between consecutive values differ from those given.
        """
        path = attribute_name.replace(".", "__").split("__")
        keyed = []
        for item in self:
            value = get_nested(item, path)
            if value is _MISSING:
                raise InvalidInputException(f"{item!r} has no attribute {attribute_name!r} to order by.")
            keyed.append((value, item))
        try:
            keyed.sort(key=lambda pair: pair[0], reverse=reverse)
        except TypeError as error:
            raise InvalidInputException(f"The values of {attribute_name!r} cannot be compared: {error}") from None
        results = FilterList(item for _, item in keyed)
        values = [value for value, _ in keyed]
        if check_start_value is not None and values and values[0] != check_start_value:
            raise BrokenSequenceException(
                f"The first value of {attribute_name!r} is {values[0]!r}, not the required start value "
                f"{check_start_value!r} (items: {list(results)!r})."
            )
        if check_constant_increment is not None:
            for previous, following in itertools.pairwise(values):
                if following - previous != check_constant_increment:
                    raise BrokenSequenceException(
                        f"The values of {attribute_name!r} do not increase by {check_constant_increment!r}: "
                        f"{previous!r} is followed by {following!r} (values: {values!r})."
                    )
        return results


class FilterSet(FilterContainer, set):
    """A set of items (e.g. datafiles) that can be filtered and ordered."""

    def __repr__(self) -> str:
        return f"<FilterSet({sorted(map(repr, self))})>"


class FilterList(FilterContainer, list):
    """A list of items that can be filtered and ordered."""


class FilterDict(dict):
    """A dict whose values can be filtered (the result keeps their keys)."""

    def filter(self, ignore_items_without_attribute: bool = True, **filters: Any) -> "FilterDict":
        compiled = compile_filters(filters)
        return FilterDict({key: value for key, value in self.items() if _matches(value, compiled)})

    def one(self, **filters: Any) -> tuple:
        results = self.filter(**filters) if filters else self
        if len(results) != 1:
            raise UnexpectedNumberOfResultsException(f"{len(results)} results found for filters {filters!r}.")
        return next(iter(results.items()))

    def order_by(self, attribute_name: str, reverse: bool = False) -> FilterList:
        path = attribute_name.replace(".", "__").split("__")
        return FilterList(sorted(self.items(), key=lambda pair: get_nested(pair[1], path), reverse=reverse))


def filter_items(items: Iterable, **filters: Any) -> FilterList:
    """Filter any iterable (helper for code that holds plain lists)."""
    return FilterList(items).filter(**filters)
