"""Attribute filters (`ComparisonFilter` / `CompoundFilter`): parsed once, checked against
each file's attributes. A malformed filter, or one that compares an attribute with a value
of another type (a number attribute with a string), is the caller's mistake: a 400."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from thinkgate.errors import InvalidRequestError

Scalar = str | float | bool
Test = Callable[[Mapping[str, Scalar]], bool]
_COMPARE = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "nin")
_ORDER = ("gt", "gte", "lt", "lte")
_MAX_DEPTH = 8


def parse_filter(raw: Any, param: str = "filters") -> Test | None:
    """A predicate over a file's attributes (None: no filter)."""
    if raw is None:
        return None
    return _parse(raw, param, 0)


def _parse(raw: Any, param: str, depth: int) -> Test:
    if not isinstance(raw, Mapping):
        raise _bad(param, "must be an object with a 'type'")
    if depth > _MAX_DEPTH:
        raise _bad(param, f"nests deeper than {_MAX_DEPTH} levels")
    kind = raw.get("type")
    if kind in ("and", "or"):
        return _compound(raw, str(kind), param, depth)
    if kind in _COMPARE:
        return _comparison(raw, str(kind), param)
    raise _bad(f"{param}.type", f"must be one of {', '.join((*_COMPARE, 'and', 'or'))}")


def _compound(raw: Mapping[str, Any], kind: str, param: str, depth: int) -> Test:
    parts = raw.get("filters")
    if not isinstance(parts, list) or not parts:
        raise _bad(f"{param}.filters", "must be a non-empty array of filters")
    extra = set(raw) - {"type", "filters"}
    if extra:
        raise _bad(param, f"has unknown field(s): {', '.join(sorted(extra))}")
    tests = [_parse(p, f"{param}.filters[{i}]", depth + 1) for i, p in enumerate(parts)]
    if kind == "and":
        return lambda attributes: all(test(attributes) for test in tests)
    return lambda attributes: any(test(attributes) for test in tests)


def _comparison(raw: Mapping[str, Any], kind: str, param: str) -> Test:
    key, value = raw.get("key"), raw.get("value")
    extra = set(raw) - {"type", "key", "value"}
    if extra:
        raise _bad(param, f"has unknown field(s): {', '.join(sorted(extra))}")
    if not isinstance(key, str) or not key:
        raise _bad(f"{param}.key", "must be a non-empty string")
    if kind in ("in", "nin"):
        if not isinstance(value, list) or not all(_scalar(v) for v in value):
            raise _bad(f"{param}.value", f"'{kind}' needs an array of strings or numbers")
    elif kind in _ORDER:
        if not _number(value):
            raise _bad(f"{param}.value", f"'{kind}' compares numbers: the value must be one")
    elif not _scalar(value):
        raise _bad(f"{param}.value", "must be a string, a number or a boolean")

    def test(attributes: Mapping[str, Scalar]) -> bool:
        if key not in attributes:
            return kind in ("ne", "nin")
        have = attributes[key]
        wanted = value if isinstance(value, list) else [value]
        for candidate in wanted:
            if _kind(candidate) != _kind(have):
                raise _bad(
                    f"{param}.value",
                    f"attribute '{key}' is a {_kind(have)}; the filter compares it with a "
                    f"{_kind(candidate)}",
                    code="invalid_filter_type",
                )
        return _apply(kind, have, value)

    return test


def _apply(kind: str, have: Scalar, value: Any) -> bool:
    if kind == "eq":
        return bool(have == value)
    if kind == "ne":
        return bool(have != value)
    if kind == "in":
        return have in value
    if kind == "nin":
        return have not in value
    number = float(have)
    limit = float(value)
    return {
        "gt": number > limit,
        "gte": number >= limit,
        "lt": number < limit,
        "lte": number <= limit,
    }[kind]


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "string"


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float)


def _bad(param: str, message: str, code: str = "invalid_filter") -> InvalidRequestError:
    return InvalidRequestError(f"Invalid '{param}': {message}.", param=param, code=code)
