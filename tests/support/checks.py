"""Shared assertions for tests: Open Responses schema validation and the Responses SSE grammar.

Not a test module. Import it from tests:

    from tests.support.checks import check_stream_grammar, validate_response_resource

The schema is the vendored Open Responses OpenAPI document (see shared/spec/README.md). The grammar
follows the wire reference (shared/reference/responses_api.md, sections 3.2-3.5), which records what
live GPT-5.1 traffic and the official SDK do where the spec differs from them.
"""

from __future__ import annotations

import copy
import functools
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry
from referencing.jsonschema import DRAFT202012

__all__ = [
    "SPEC_EVENT_SCHEMAS",
    "SPEC_PATH",
    "check_stream_grammar",
    "spec_schema",
    "validate_response_resource",
    "validate_stream_event",
]

_SPEC_NAME = "openresponses-openapi.json"
_SPEC_URI = "urn:thinkgate:openresponses"


def _find_spec() -> Path:
    """The spec lives outside the repo; allow an override and a checkout-local `shared/` copy."""
    override = os.environ.get("OPENRESPONSES_SPEC")
    if override:
        return Path(override)
    repo_root = Path(__file__).resolve().parents[2]
    for candidate in (
        repo_root / "shared" / "spec" / _SPEC_NAME,
        repo_root.parent / "shared" / "spec" / _SPEC_NAME,
        Path("/work/shared/spec") / _SPEC_NAME,
    ):
        if candidate.is_file():
            return candidate
    return Path("/work/shared/spec") / _SPEC_NAME


SPEC_PATH = _find_spec()

# Event `type` -> spec schema name (the README's table of 24 streaming event schemas).
SPEC_EVENT_SCHEMAS: dict[str, str] = {
    "response.created": "ResponseCreatedStreamingEvent",
    "response.queued": "ResponseQueuedStreamingEvent",
    "response.in_progress": "ResponseInProgressStreamingEvent",
    "response.completed": "ResponseCompletedStreamingEvent",
    "response.failed": "ResponseFailedStreamingEvent",
    "response.incomplete": "ResponseIncompleteStreamingEvent",
    "response.output_item.added": "ResponseOutputItemAddedStreamingEvent",
    "response.output_item.done": "ResponseOutputItemDoneStreamingEvent",
    "response.content_part.added": "ResponseContentPartAddedStreamingEvent",
    "response.content_part.done": "ResponseContentPartDoneStreamingEvent",
    "response.output_text.delta": "ResponseOutputTextDeltaStreamingEvent",
    "response.output_text.done": "ResponseOutputTextDoneStreamingEvent",
    "response.output_text.annotation.added": "ResponseOutputTextAnnotationAddedStreamingEvent",
    "response.refusal.delta": "ResponseRefusalDeltaStreamingEvent",
    "response.refusal.done": "ResponseRefusalDoneStreamingEvent",
    "response.reasoning.delta": "ResponseReasoningDeltaStreamingEvent",
    "response.reasoning.done": "ResponseReasoningDoneStreamingEvent",
    "response.reasoning_summary_part.added": "ResponseReasoningSummaryPartAddedStreamingEvent",
    "response.reasoning_summary_part.done": "ResponseReasoningSummaryPartDoneStreamingEvent",
    "response.reasoning_summary_text.delta": "ResponseReasoningSummaryDeltaStreamingEvent",
    "response.reasoning_summary_text.done": "ResponseReasoningSummaryDoneStreamingEvent",
    "response.function_call_arguments.delta": "ResponseFunctionCallArgumentsDeltaStreamingEvent",
    "response.function_call_arguments.done": "ResponseFunctionCallArgumentsDoneStreamingEvent",
    "error": "ErrorStreamingEvent",
}

# The SDK and live API name raw-reasoning events `reasoning_text`; the spec says `reasoning`.
_SDK_EVENT_ALIASES: dict[str, str] = {
    "response.reasoning_text.delta": "response.reasoning.delta",
    "response.reasoning_text.done": "response.reasoning.done",
}

_MAX_REPORTED_ERRORS = 25
_MAX_MESSAGE_CHARS = 240


# --------------------------------------------------------------------------------------------
# Schema validation
# --------------------------------------------------------------------------------------------


@functools.cache
def _components() -> dict[str, Any]:
    """Load once; patch only the one deviation the spec README documents as intentional."""
    try:
        document = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AssertionError(
            f"Open Responses spec not found at {SPEC_PATH} (set OPENRESPONSES_SPEC)"
        ) from None
    components: dict[str, Any] = copy.deepcopy(document["components"])
    # We echo the request's json_schema object in `text.format.schema` like the live API and
    # the SDK; the spec types that property as null, so accept an object there too.
    fmt = components["schemas"]["JsonSchemaResponseFormat"]["properties"]
    assert "schema" in fmt, "spec changed: JsonSchemaResponseFormat has no `schema` property"
    fmt["schema"] = {
        "anyOf": [{"type": "object"}, {"type": "null"}],
        "description": "thinkgate: relaxed from type null; the response echoes the request schema.",
    }
    return components


@functools.cache
def _registry() -> Registry[Any]:
    resource = DRAFT202012.create_resource({"components": _components()})
    registry: Registry[Any] = Registry().with_resource(_SPEC_URI, resource)
    return registry


@functools.cache
def _validator(schema_name: str) -> Draft202012Validator:
    """One compiled validator per schema name; refs resolve against the whole document."""
    if schema_name not in _components()["schemas"]:
        raise KeyError(f"no schema {schema_name!r} in {SPEC_PATH}")
    schema = {"$ref": f"{_SPEC_URI}#/components/schemas/{schema_name}"}
    return Draft202012Validator(schema, registry=_registry())


def spec_schema(name: str) -> dict[str, Any]:
    """A copy of one component schema as validation uses it (with the json_schema relaxation)."""
    return copy.deepcopy(_components()["schemas"][name])


def _json_path(path: Iterable[object]) -> str:
    text = "$"
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def _is_wrong_branch(errors: list[ValidationError]) -> bool:
    """A oneOf/anyOf branch is irrelevant if the value has the wrong JSON type or `type` tag."""
    for error in errors:
        relative = list(error.relative_path)
        if not relative and error.validator == "type":
            return True
        if relative == ["type"] and error.validator in ("enum", "const"):
            return True
    return False


def _leaf_errors(error: ValidationError) -> list[ValidationError]:
    """Descend into the single plausible oneOf/anyOf branch, so messages name the real field."""
    if not error.context:
        return [error]
    branches: dict[object, list[ValidationError]] = {}
    for sub in error.context:
        key = sub.relative_schema_path[0] if sub.relative_schema_path else None
        branches.setdefault(key, []).append(sub)
    plausible = [errs for errs in branches.values() if not _is_wrong_branch(errs)]
    if len(plausible) != 1:
        return [error]
    return [leaf for sub in plausible[0] for leaf in _leaf_errors(sub)]


def _describe(errors: Iterable[ValidationError]) -> list[str]:
    leaves = [leaf for error in errors for leaf in _leaf_errors(error)]
    leaves.sort(key=lambda e: [str(p) for p in e.absolute_path])
    lines = []
    for leaf in leaves:
        message = leaf.message
        if len(message) > _MAX_MESSAGE_CHARS:
            message = message[: _MAX_MESSAGE_CHARS - 3] + "..."
        lines.append(f"{_json_path(leaf.absolute_path)}: {message}")
    lines = list(dict.fromkeys(lines))
    if len(lines) > _MAX_REPORTED_ERRORS:
        hidden = len(lines) - _MAX_REPORTED_ERRORS
        lines = [*lines[:_MAX_REPORTED_ERRORS], f"... and {hidden} more"]
    return lines


def _validate(instance: object, schema_name: str, what: str) -> None:
    errors = list(_validator(schema_name).iter_errors(instance))
    if errors:
        details = "\n  ".join(_describe(errors))
        raise AssertionError(f"{what} does not match {schema_name}:\n  {details}")


def validate_response_resource(obj: dict[str, Any]) -> None:
    """Assert that `obj` is a valid Open Responses `ResponseResource` (all 31 fields)."""
    if not isinstance(obj, dict):
        raise AssertionError(f"response must be a JSON object, got {type(obj).__name__}")
    _validate(obj, "ResponseResource", f"response {obj.get('id')!r}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_stream_event(event: dict[str, Any]) -> None:
    """Assert that one SSE event matches the spec schema that its `type` selects.

    SDK names `response.reasoning_text.*` are checked against the spec's `response.reasoning.*`
    schemas. Types the spec lacks (custom tool input, apply_patch diff, shell command events, hosted
    tools) are checked only for a string `type` and an integer `sequence_number`. Lifecycle events
    embed a `ResponseResource`, so they get the full response validation (same relaxation).
    """
    if not isinstance(event, dict):
        raise AssertionError(f"event must be a JSON object, got {type(event).__name__}")
    kind = event.get("type")
    if not isinstance(kind, str):
        raise AssertionError(f"event `type` must be a string, got {kind!r}")
    if not _is_int(event.get("sequence_number")):
        raise AssertionError(
            f"{kind}: `sequence_number` must be an integer, got {event.get('sequence_number')!r}"
        )
    what = f"event {kind} (sequence_number={event['sequence_number']})"
    if kind in _SDK_EVENT_ALIASES:
        spec_kind = _SDK_EVENT_ALIASES[kind]
        _validate(
            {**event, "type": spec_kind}, SPEC_EVENT_SCHEMAS[spec_kind], f"{what} as {spec_kind}"
        )
        return
    schema_name = SPEC_EVENT_SCHEMAS.get(kind)
    if schema_name is not None:
        _validate(event, schema_name, what)


# --------------------------------------------------------------------------------------------
# Stream grammar
# --------------------------------------------------------------------------------------------

_OPENING = ("response.created", "response.queued", "response.in_progress")
_TERMINAL_STATUS = {
    "response.completed": "completed",
    "response.incomplete": "incomplete",
    "response.failed": "failed",
}
_OPENING_STATUS = {
    "response.created": ("in_progress", "queued"),
    "response.queued": ("queued",),
    "response.in_progress": ("in_progress",),
}

# Event-type prefix -> item types the event may belong to.
_ITEM_TYPES_BY_PREFIX: dict[str, tuple[str, ...]] = {
    "response.content_part.": ("message", "reasoning"),
    "response.output_text.": ("message",),
    "response.refusal.": ("message",),
    "response.reasoning_text.": ("reasoning",),
    "response.reasoning.": ("reasoning",),
    "response.reasoning_summary_part.": ("reasoning",),
    "response.reasoning_summary_text.": ("reasoning",),
    "response.function_call_arguments.": ("function_call",),
    "response.custom_tool_call_input.": ("custom_tool_call",),
    "response.apply_patch_call_operation_diff.": ("apply_patch_call",),
    "response.shell_call_command.": ("shell_call",),
}

# Item-scoped events that carry no `item_id` (LIVE, reference section 3.2).
_NO_ITEM_ID_PREFIXES = ("response.shell_call_command.",)


@dataclass(frozen=True)
class _Channel:
    """A text streamed as deltas and then repeated whole in a `.done` event."""

    name: str
    deltas: tuple[str, ...]
    dones: tuple[str, ...]
    field: str  # the whole text on the `.done` event
    index: str | None  # the sub-index field, if the item can stream several texts
    container: str | None  # the part kind that must be open around the deltas
    part_type: str | None = None  # for content parts: the part `type` this text belongs to


_CHANNELS = (
    _Channel(
        "output_text",
        ("response.output_text.delta",),
        ("response.output_text.done",),
        "text",
        "content_index",
        "content",
        "output_text",
    ),
    _Channel(
        "refusal",
        ("response.refusal.delta",),
        ("response.refusal.done",),
        "refusal",
        "content_index",
        "content",
        "refusal",
    ),
    _Channel(
        "reasoning_text",
        ("response.reasoning_text.delta", "response.reasoning.delta"),
        ("response.reasoning_text.done", "response.reasoning.done"),
        "text",
        "content_index",
        "content",
        "reasoning_text",
    ),
    _Channel(
        "reasoning_summary_text",
        ("response.reasoning_summary_text.delta",),
        ("response.reasoning_summary_text.done",),
        "text",
        "summary_index",
        "summary",
    ),
    _Channel(
        "function_call_arguments",
        ("response.function_call_arguments.delta",),
        ("response.function_call_arguments.done",),
        "arguments",
        None,
        None,
    ),
    _Channel(
        "custom_tool_call_input",
        ("response.custom_tool_call_input.delta",),
        ("response.custom_tool_call_input.done",),
        "input",
        None,
        None,
    ),
    _Channel(
        "apply_patch_call_operation_diff",
        ("response.apply_patch_call_operation_diff.delta",),
        ("response.apply_patch_call_operation_diff.done",),
        "diff",
        None,
        None,
    ),
    _Channel(
        "shell_call_command",
        ("response.shell_call_command.delta",),
        ("response.shell_call_command.done",),
        "command",
        "command_index",
        "command",
    ),
)
_CHANNEL_BY_DELTA = {kind: ch for ch in _CHANNELS for kind in ch.deltas}
_CHANNEL_BY_DONE = {kind: ch for ch in _CHANNELS for kind in ch.dones}
_CONTENT_CHANNEL_BY_PART = {ch.part_type: ch for ch in _CHANNELS if ch.part_type}
_SUMMARY_CHANNEL = next(ch for ch in _CHANNELS if ch.name == "reasoning_summary_text")
_COMMAND_CHANNEL = next(ch for ch in _CHANNELS if ch.name == "shell_call_command")

# Part containers: opening event -> (kind, index field); closing event -> kind.
_PART_OPEN = {
    "response.content_part.added": ("content", "content_index"),
    "response.reasoning_summary_part.added": ("summary", "summary_index"),
    "response.shell_call_command.added": ("command", "command_index"),
}
_PART_CLOSE = {
    "response.content_part.done": ("content", "content_index"),
    "response.reasoning_summary_part.done": ("summary", "summary_index"),
}
_PART_LABEL = {"content": "content part", "summary": "summary part", "command": "shell command"}


@dataclass
class _Text:
    deltas: list[str] = field(default_factory=list)
    done: str | None = None


@dataclass
class _Part:
    added: Any
    final: Any = None
    closed: bool = False


@dataclass
class _Item:
    index: int
    id: str
    type: str
    final: dict[str, Any] | None = None
    parts: dict[str, dict[int, _Part]] = field(default_factory=dict)
    texts: dict[tuple[str, int | None], _Text] = field(default_factory=dict)


class _StreamError(AssertionError):
    pass


class _Grammar:
    """Consumes events one by one and raises on the first broken rule."""

    def __init__(self) -> None:
        self.started = False  # response.in_progress seen
        self.response_id: str | None = None
        self.terminal: str | None = None
        self.pending_error = False
        self.items: list[_Item] = []
        self.item_ids: set[str] = set()

    # -- helpers ------------------------------------------------------------------------------

    @staticmethod
    def _field(event: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
        value = event.get(name)
        wrong_bool = isinstance(value, bool) and kind is int
        if name not in event or not isinstance(value, kind) or wrong_bool:
            raise _StreamError(f"`{name}` missing or not {getattr(kind, '__name__', kind)}")
        return value

    # -- per event ----------------------------------------------------------------------------

    def feed(self, index: int, event: dict[str, Any]) -> None:
        kind: str = event["type"]
        if self.terminal is not None:
            if kind in _TERMINAL_STATUS:
                raise _StreamError(
                    f"second terminal event (after {self.terminal}); "
                    "exactly one terminal event is allowed"
                )
            raise _StreamError(f"event after the terminal {self.terminal}; it must be the last")
        if self.pending_error and kind != "response.failed":
            raise _StreamError("an `error` event must be directly followed by response.failed")
        if index == 0 and kind != "response.created":
            raise _StreamError("the first event must be response.created")
        if kind in _OPENING:
            self._opening(index, kind, event)
            return
        if not self.started:
            raise _StreamError(
                "the stream must open with response.created, [response.queued,] "
                f"response.in_progress before {kind}"
            )
        if kind == "error":
            self.pending_error = True
        elif kind in _TERMINAL_STATUS:
            self._terminal(kind, event)
        else:
            self._item_event(kind, event)

    def _snapshot(self, kind: str, event: dict[str, Any]) -> dict[str, Any]:
        response: dict[str, Any] = self._field(event, "response", dict)
        response_id = response.get("id")
        if self.response_id is None:
            self.response_id = response_id
        elif response_id != self.response_id:
            raise _StreamError(
                f"response.id {response_id!r} differs from response.created's {self.response_id!r}"
            )
        return response

    def _opening(self, index: int, kind: str, event: dict[str, Any]) -> None:
        if kind == "response.created" and index != 0:
            raise _StreamError("response.created must appear once, as the first event")
        if kind == "response.queued" and index != 1:
            raise _StreamError("response.queued may only directly follow response.created")
        if kind == "response.in_progress" and self.started:
            raise _StreamError("response.in_progress appears twice")
        response = self._snapshot(kind, event)
        if response.get("status") not in _OPENING_STATUS[kind]:
            raise _StreamError(
                f"response.status is {response.get('status')!r}, "
                f"expected one of {_OPENING_STATUS[kind]}"
            )
        if response.get("output") != []:
            raise _StreamError("the opening snapshots must have `output: []`")
        if kind == "response.in_progress":
            self.started = True

    def _terminal(self, kind: str, event: dict[str, Any]) -> None:
        response = self._snapshot(kind, event)
        self.terminal = kind
        self.pending_error = False
        expected_status = _TERMINAL_STATUS[kind]
        if response.get("status") != expected_status:
            raise _StreamError(
                f"response.status is {response.get('status')!r}, expected {expected_status!r}"
            )
        if kind == "response.failed" and not isinstance(response.get("error"), dict):
            raise _StreamError("response.failed must carry `response.error`")
        if kind == "response.incomplete" and not isinstance(
            response.get("incomplete_details"), dict
        ):
            raise _StreamError("response.incomplete must carry `response.incomplete_details`")
        if kind == "response.completed" and not isinstance(response.get("usage"), dict):
            raise _StreamError("response.completed must carry `response.usage`")
        if kind != "response.failed":
            for item in self.items:
                if item.final is None:
                    raise _StreamError(
                        f"output_index {item.index} (item {item.id}) has no output_item.done "
                        f"before {kind}"
                    )
        done_items = [item.final for item in self.items if item.final is not None]
        output = response.get("output")
        if output != done_items:
            raise _StreamError(
                "response.output differs from the output_item.done items in order: "
                + _first_difference(output, done_items)
            )

    def _item_event(self, kind: str, event: dict[str, Any]) -> None:
        output_index = self._field(event, "output_index", int)
        if kind == "response.output_item.added":
            self._item_added(output_index, event)
            return
        if output_index >= len(self.items) or output_index < 0:
            what = "output_item.done" if kind == "response.output_item.done" else kind
            raise _StreamError(
                f"{what} for output_index {output_index} without a preceding output_item.added"
            )
        item = self.items[output_index]
        if item.final is not None:
            raise _StreamError(f"{kind} for output_index {output_index} after its output_item.done")
        if kind == "response.output_item.done":
            self._item_done(item, event)
            return
        self._check_belongs(kind, item, event)
        if kind in _PART_OPEN:
            self._part_added(kind, item, event)
        elif kind in _PART_CLOSE:
            self._part_done(kind, item, event)
        elif kind in _CHANNEL_BY_DELTA:
            self._text_delta(_CHANNEL_BY_DELTA[kind], item, event)
        elif kind in _CHANNEL_BY_DONE:
            self._text_done(_CHANNEL_BY_DONE[kind], item, event)
        elif kind == "response.output_text.annotation.added":
            self._open_part(item, "content", self._field(event, "content_index", int))

    def _item_added(self, output_index: int, event: dict[str, Any]) -> None:
        if output_index != len(self.items):
            raise _StreamError(
                f"output_index is {output_index}, expected {len(self.items)} "
                "(indexes start at 0 and increase by 1 in added order)"
            )
        item = self._field(event, "item", dict)
        item_id, item_type = item.get("id"), item.get("type")
        if not isinstance(item_id, str) or not item_id:
            raise _StreamError("output_item.added `item.id` must be a non-empty string")
        if not isinstance(item_type, str):
            raise _StreamError("output_item.added `item.type` must be a string")
        if item_id in self.item_ids:
            raise _StreamError(f"item id {item_id!r} is not unique")
        self.item_ids.add(item_id)
        self.items.append(_Item(output_index, item_id, item_type))

    def _check_belongs(self, kind: str, item: _Item, event: dict[str, Any]) -> None:
        """Sub-events name their item by id (except shell commands) and fit its type."""
        if "item_id" in event or not kind.startswith(_NO_ITEM_ID_PREFIXES):
            item_id = event.get("item_id")
            if item_id != item.id:
                raise _StreamError(
                    f"item_id {item_id!r} does not match output_index {item.index}'s "
                    f"item {item.id!r}"
                )
        prefixes = [p for p in _ITEM_TYPES_BY_PREFIX if kind.startswith(p)]
        if prefixes:
            allowed = _ITEM_TYPES_BY_PREFIX[max(prefixes, key=len)]
            if item.type not in allowed:
                raise _StreamError(f"{kind} on a {item.type!r} item (expected {allowed})")

    def _open_part(self, item: _Item, kind: str, index: int) -> _Part:
        part = item.parts.get(kind, {}).get(index)
        if part is None:
            raise _StreamError(f"no {_PART_LABEL[kind]} {index} was added for this item")
        if part.closed:
            raise _StreamError(f"{_PART_LABEL[kind]} {index} is already done")
        return part

    def _part_added(self, kind: str, item: _Item, event: dict[str, Any]) -> None:
        part_kind, index_field = _PART_OPEN[kind]
        index = self._field(event, index_field, int)
        parts = item.parts.setdefault(part_kind, {})
        if index in parts:
            raise _StreamError(f"{_PART_LABEL[part_kind]} {index} added twice")
        if index != len(parts):
            raise _StreamError(f"{index_field} is {index}, expected {len(parts)}")
        if part_kind == "command":
            command = self._field(event, "command", str)
            parts[index] = _Part(command)
            item.texts[(_COMMAND_CHANNEL.name, index)] = _Text([command] if command else [])
        else:
            parts[index] = _Part(self._field(event, "part", dict))

    def _part_done(self, kind: str, item: _Item, event: dict[str, Any]) -> None:
        part_kind, index_field = _PART_CLOSE[kind]
        index = self._field(event, index_field, int)
        part = self._open_part(item, part_kind, index)
        final = self._field(event, "part", dict)
        if final.get("type") != part.added.get("type"):
            raise _StreamError(
                f"part type {final.get('type')!r} differs from the added {part.added.get('type')!r}"
            )
        channel = (
            _SUMMARY_CHANNEL
            if part_kind == "summary"
            else _CONTENT_CHANNEL_BY_PART.get(final["type"])
        )
        if channel is not None:
            text = item.texts.get((channel.name, index))
            if text is None or text.done is None:
                raise _StreamError(f"{kind} before {channel.dones[0]} for {index_field} {index}")
            if final.get(channel.field) != text.done:
                raise _StreamError(
                    f"part.{channel.field} {final.get(channel.field)!r} differs from "
                    f"{channel.dones[0]}.{channel.field} {text.done!r}"
                )
        part.final, part.closed = final, True

    def _text_key(
        self, channel: _Channel, item: _Item, event: dict[str, Any]
    ) -> tuple[str, int | None]:
        index = self._field(event, channel.index, int) if channel.index else None
        if channel.container is not None and index is not None:
            part = self._open_part(item, channel.container, index)
            if channel.part_type is not None and part.added.get("type") != channel.part_type:
                raise _StreamError(
                    f"{channel.name} text in a {part.added.get('type')!r} content part"
                )
        return channel.name, index

    def _text_delta(self, channel: _Channel, item: _Item, event: dict[str, Any]) -> None:
        key = self._text_key(channel, item, event)
        text = item.texts.setdefault(key, _Text())
        if text.done is not None:
            raise _StreamError(f"delta after {channel.dones[0]}")
        text.deltas.append(self._field(event, "delta", str))

    def _text_done(self, channel: _Channel, item: _Item, event: dict[str, Any]) -> None:
        key = self._text_key(channel, item, event)
        text = item.texts.setdefault(key, _Text())
        if text.done is not None:
            raise _StreamError(f"{channel.dones[0]} appears twice")
        value = self._field(event, channel.field, str)
        joined = "".join(text.deltas)
        if joined != value:
            raise _StreamError(
                f"concatenated {channel.deltas[0]} deltas {_short(joined)} differ from "
                f"`{channel.field}` {_short(value)}"
            )
        text.done = value
        if channel.container == "command" and key[1] is not None:
            part = item.parts["command"][key[1]]
            part.final, part.closed = value, True

    def _item_done(self, item: _Item, event: dict[str, Any]) -> None:
        final = self._field(event, "item", dict)
        if final.get("id") != item.id or final.get("type") != item.type:
            raise _StreamError(
                f"output_item.done item {final.get('type')!r}/{final.get('id')!r} differs from the "
                f"added {item.type!r}/{item.id!r}"
            )
        for part_kind, parts in item.parts.items():
            for index, part in parts.items():
                if not part.closed:
                    raise _StreamError(
                        f"output_item.done while {_PART_LABEL[part_kind]} {index} is still open"
                    )
        for (name, text_index), text in item.texts.items():
            if text.done is None:
                where = "" if text_index is None else f" {text_index}"
                raise _StreamError(f"output_item.done while {name}{where} has no .done event")
        self._check_final_item(item, final)
        item.final = final

    def _check_final_item(self, item: _Item, final: dict[str, Any]) -> None:
        """The finished item must hold exactly what was streamed for it."""
        expected: list[tuple[str, Any, Any]] = []
        for part_kind, attr in (("content", "content"), ("summary", "summary")):
            parts = item.parts.get(part_kind)
            if parts:
                streamed = [parts[i].final for i in sorted(parts)]
                expected.append((f"item.{attr}", final.get(attr), streamed))
        commands = item.parts.get("command")
        if commands:
            streamed = [commands[i].final for i in sorted(commands)]
            action = final.get("action")
            actual = action.get("commands") if isinstance(action, dict) else None
            expected.append(("item.action.commands", actual, streamed))
        for (name, _), text in item.texts.items():
            if name == "function_call_arguments":
                expected.append(("item.arguments", final.get("arguments"), text.done))
            elif name == "custom_tool_call_input":
                expected.append(("item.input", final.get("input"), text.done))
            elif name == "apply_patch_call_operation_diff":
                operation = final.get("operation")
                actual = operation.get("diff") if isinstance(operation, dict) else None
                expected.append(("item.operation.diff", actual, text.done))
        for label, actual, streamed in expected:
            if actual != streamed:
                raise _StreamError(
                    f"{label} {_short(actual)} differs from what was streamed {_short(streamed)}"
                )

    def finish(self) -> None:
        if self.terminal is None:
            raise _StreamError(
                "the stream ended without a terminal event "
                "(response.completed / response.incomplete / response.failed)"
            )


def _short(value: object, limit: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _first_difference(actual: object, expected: Sequence[Any]) -> str:
    if not isinstance(actual, list):
        return f"output is {_short(actual)}"
    if len(actual) != len(expected):
        return f"{len(actual)} items in output, {len(expected)} output_item.done items"
    for index, (got, want) in enumerate(zip(actual, expected, strict=True)):
        if got != want:
            return f"output[{index}] is {_short(got)}, output_item.done had {_short(want)}"
    return "no difference found"


def check_stream_grammar(events: list[dict[str, Any]], *, validate: bool = True) -> None:
    """Assert the Responses SSE grammar (reference section 3) over a whole decoded stream.

    Checks sequence numbers (0, +1), the opening (created, [queued,] in_progress), exactly one
    terminal event at the end (an `error` event may directly precede response.failed), the pairing
    and nesting of items, content parts, summary parts and shell commands, that deltas add up to
    their `.done` text and the `.done` text to the finished part and item, that ids are unique and
    that the terminal `output` equals the output_item.done items. With `validate` (the default)
    every event is also checked by `validate_stream_event`; pass `validate=False` for streams with
    items the spec cannot describe (apply_patch_call, shell_call, custom_tool_call).
    """
    if not isinstance(events, list) or not events:
        raise AssertionError("the stream has no events")
    grammar = _Grammar()
    where = "end of stream"
    for index, event in enumerate(events):
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            raise AssertionError(f"event #{index}: not an object with a string `type`: {event!r}")
        where = f"event sequence_number={event.get('sequence_number')!r} ({event['type']})"
        sequence_number = event.get("sequence_number")
        if not _is_int(sequence_number) or sequence_number != index:
            raise AssertionError(
                f"{where}: sequence_number must be {index} (starts at 0, +1 per event)"
            )
        if validate:
            try:
                validate_stream_event(event)
            except AssertionError as error:
                raise AssertionError(f"{where}: schema: {error}") from None
        try:
            grammar.feed(index, event)
        except _StreamError as error:
            raise AssertionError(f"{where}: {error}") from None
    try:
        grammar.finish()
    except _StreamError as error:
        raise AssertionError(f"after last {where}: {error}") from None
