"""Body parsing: bytes → pydantic model, with failures worded as OpenAI words them.

Every failure becomes an `InvalidRequestError` whose `param` names the field in
OpenAI's dotted form (`input[2].content[0].text`), so a client can point at it.
"""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from thinkgate.errors import InvalidRequestError
from thinkgate.protocol.limits import check_depth

ModelT = TypeVar("ModelT", bound=BaseModel)

# pydantic puts union member names into `loc`; they are not fields.
_TYPE_TAGS = {
    "str",
    "int",
    "float",
    "bool",
    "list",
    "dict",
    "none",
    "function-after",
    "tagged-union",
}


def parse_body(raw: bytes, model: type[ModelT]) -> ModelT:
    """Decode JSON and validate it; any failure is a 400 naming the parameter."""
    data = parse_json(raw)
    check_depth(raw, data)
    if not isinstance(data, dict):
        raise InvalidRequestError(
            "The request body must be a JSON object.", param=None, code="invalid_type"
        )
    return validate(data, model)


def parse_json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidRequestError(
            "We could not parse the JSON body of your request. (HINT: This likely means you "
            "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, "
            "but what was sent was not valid JSON.)",
            code="invalid_json",
        ) from None


def validate(data: Any, model: type[ModelT], *, prefix: str = "") -> ModelT:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error_to_client_error(exc, prefix=prefix, data=data) from None


def validation_error_to_client_error(
    exc: ValidationError, *, prefix: str = "", data: Any = None
) -> InvalidRequestError:
    """The one error a client most needs: a missing or unknown field first, then the most
    specific one (of a union's branches, the one that got furthest into the value)."""
    errors = exc.errors(include_url=False)
    paths = [param_path(tuple(e["loc"]), prefix, data=data) for e in errors]
    ranked = sorted(
        range(len(errors)),
        key=lambda i: (
            0 if errors[i]["type"] in {"missing", "extra_forbidden"} else 1,
            -len(paths[i]),
            1 if errors[i]["type"].endswith("_type") else 0,  # a branch that matched the type
        ),
    )
    return _to_client_error(errors[ranked[0]], paths[ranked[0]])


def param_path(loc: tuple[int | str, ...], prefix: str = "", *, data: Any = None) -> str:
    """`("input", 2, "content")` → `input[2].content`.

    Union member names and discriminator tags are not fields: they are dropped, by name,
    and (given the validated `data`) by walking the value, where a tag is not a key.
    """
    path = prefix
    node = data
    for depth, part in enumerate(loc):
        if isinstance(part, int):
            path += f"[{part}]"
            node = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
        elif _is_union_member(part) or (depth < len(loc) - 1 and _is_tag(node, part)):
            continue
        else:
            path = f"{path}.{part}" if path else part
            node = node.get(part) if isinstance(node, dict) else None
    return path


def _is_union_member(part: str) -> bool:
    return "[" in part or part in _TYPE_TAGS or part.startswith(("literal", "function-"))


def _is_tag(node: Any, part: str) -> bool:
    """A discriminated union puts the tag's value in `loc`: `{"type": "json_schema"}`.
    (Never the last part: there it is a missing field that shares the tag's name.)"""
    if not isinstance(node, dict) or part in node:
        return False
    return any(value == part for value in node.values() if isinstance(value, str))


def _to_client_error(error: ErrorDetails, param_text: str) -> InvalidRequestError:
    param = param_text or None
    kind = error["type"]
    value = error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return InvalidRequestError(
            f"Missing required parameter: '{param}'.",
            param=param,
            code="missing_required_parameter",
        )
    if kind == "extra_forbidden":
        return InvalidRequestError(
            f"Unknown parameter: '{param}'.", param=param, code="unknown_parameter"
        )
    if kind in {"literal_error", "enum"}:
        expected = ctx.get("expected", "")
        return InvalidRequestError(
            f"Invalid value: {_show(value)}. Supported values are: {expected}.",
            param=param,
            code="invalid_value",
        )
    if kind in {"greater_than_equal", "greater_than"}:
        return InvalidRequestError(
            f"Invalid '{param}': value below minimum. Expected a value >= "
            f"{ctx.get('ge', ctx.get('gt'))}, but got {_show(value)} instead.",
            param=param,
            code="integer_below_min_value" if isinstance(value, int) else "decimal_below_min_value",
        )
    if kind in {"less_than_equal", "less_than"}:
        return InvalidRequestError(
            f"Invalid '{param}': value above maximum. Expected a value <= "
            f"{ctx.get('le', ctx.get('lt'))}, but got {_show(value)} instead.",
            param=param,
            code="integer_above_max_value" if isinstance(value, int) else "decimal_above_max_value",
        )
    if kind in {"string_too_long", "too_long"}:
        return InvalidRequestError(
            f"Invalid '{param}': {error['msg'].lower()}.",
            param=param,
            code=f"{_kind_of(value)}_above_max_length",
        )
    if kind in {"string_too_short", "too_short"}:
        return InvalidRequestError(
            f"Invalid '{param}': {error['msg'].lower()}.",
            param=param,
            code=f"{_kind_of(value)}_below_min_length",
        )
    if kind.endswith(("_type", "_parsing")) or kind in {"model_type", "dict_type", "list_type"}:
        return InvalidRequestError(
            f"Invalid type for '{param}': expected {_expected(kind)}, "
            f"but got {_describe(value)} instead.",
            param=param,
            code="invalid_type",
        )
    if kind == "value_error":
        message = str(ctx.get("error", error["msg"]))
        return InvalidRequestError(message, param=param, code="invalid_value")
    return InvalidRequestError(
        f"Invalid '{param}': {error['msg']}.", param=param, code="invalid_value"
    )


def _kind_of(value: Any) -> str:
    return "string" if isinstance(value, str) else "array" if isinstance(value, list) else "object"


def _show(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) else orjson.dumps(value).decode()


def _expected(kind: str) -> str:
    return {
        "string_type": "a string",
        "int_type": "an integer",
        "int_parsing": "an integer",
        "int_from_float": "an integer",
        "float_type": "a decimal",
        "float_parsing": "a decimal",
        "bool_type": "a boolean",
        "bool_parsing": "a boolean",
        "list_type": "an array",
        "dict_type": "an object",
        "model_type": "an object",
        "model_attributes_type": "an object",
    }.get(kind, "a different type")


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
