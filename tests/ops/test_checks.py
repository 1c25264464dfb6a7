"""Unit tests of tests/support/checks.py on hand-built streams (a server bug is never a checker
bug)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.checks import (
    check_stream_grammar,
    spec_schema,
    validate_response_resource,
    validate_stream_event,
)

Event = dict[str, Any]

RESP_ID = "resp_0b04c5f8dfc43af500692749bc5b288197b45e830995fd32d3"
MSG_ID = "msg_0b04c5f8dfc43af500692749bd60908197b0e453c38f30191a"
RS_ID = "rs_0b04c5f8dfc43af500692749bd60908197b0e453c38f30191b"
FC_ID = "fc_0b04c5f8dfc43af500692749bd60908197b0e453c38f30191c"
SH_ID = "sh_0b04c5f8dfc43af500692749bd60908197b0e453c38f30191d"
CREATED_AT = 1764182460
USAGE = {
    "input_tokens": 299,
    "input_tokens_details": {"cached_tokens": 0},
    "output_tokens": 12,
    "output_tokens_details": {"reasoning_tokens": 0},
    "total_tokens": 311,
}


def make_response(**overrides: Any) -> dict[str, Any]:
    """A valid in-progress ResponseResource with all 31 required fields; override any of them."""
    response: dict[str, Any] = {
        "id": RESP_ID,
        "object": "response",
        "created_at": CREATED_AT,
        "completed_at": None,
        "status": "in_progress",
        "incomplete_details": None,
        "model": "gpt-5.1",
        "previous_response_id": None,
        "instructions": None,
        "output": [],
        "error": None,
        "tools": [],
        "tool_choice": "auto",
        "truncation": "disabled",
        "parallel_tool_calls": True,
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "top_p": 1.0,
        "presence_penalty": 0.0,
        "frequency_penalty": 0.0,
        "top_logprobs": 0,
        "temperature": 1.0,
        "reasoning": {"effort": "none", "summary": None},
        "usage": None,
        "max_output_tokens": None,
        "max_tool_calls": None,
        "store": True,
        "background": False,
        "service_tier": "auto",
        "metadata": {},
        "safety_identifier": None,
        "prompt_cache_key": None,
        # Beyond the spec, as the live API sends them (extra keys are allowed).
        "user": None,
        "prompt_cache_retention": None,
    }
    response.update(overrides)
    return response


def finished(output: list[dict[str, Any]], **overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "status": "completed",
        "completed_at": CREATED_AT + 2,
        "service_tier": "default",
        "output": output,
        "usage": USAGE,
    }
    fields.update(overrides)
    return make_response(**fields)


def numbered(events: list[Event]) -> list[Event]:
    """Deep-copy (so tests can mutate one event) and number from 0."""
    events = [copy.deepcopy(event) for event in events]  # the same event may appear twice
    for index, event in enumerate(events):
        event["sequence_number"] = index
    return events


def opening(**overrides: Any) -> list[Event]:
    return [
        {"type": "response.created", "response": make_response(**overrides)},
        {"type": "response.in_progress", "response": make_response(**overrides)},
    ]


def message_events(
    output_index: int, chunks: tuple[str, ...], item_id: str = MSG_ID
) -> tuple[list[Event], dict[str, Any]]:
    """The §3.3(a) events of one assistant message, and its finished item."""
    text = "".join(chunks)
    where = {"item_id": item_id, "output_index": output_index, "content_index": 0}
    empty_part = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
    part = {**empty_part, "text": text}
    item = {"id": item_id, "type": "message", "role": "assistant"}
    done_item = {**item, "status": "completed", "content": [part]}
    events: list[Event] = [
        {
            "type": "response.output_item.added",
            "output_index": output_index,
            "item": {**item, "status": "in_progress", "content": []},
        },
        {"type": "response.content_part.added", **where, "part": empty_part},
        *(
            {
                "type": "response.output_text.delta",
                **where,
                "delta": chunk,
                "logprobs": [],
                "obfuscation": "J4mkASepgs2g",
            }
            for chunk in chunks
        ),
        {"type": "response.output_text.done", **where, "text": text, "logprobs": []},
        {"type": "response.content_part.done", **where, "part": part},
        {"type": "response.output_item.done", "output_index": output_index, "item": done_item},
    ]
    return events, done_item


def text_stream(chunks: tuple[str, ...] = ("Here", " are", " three", " notes.")) -> list[Event]:
    """A plain text answer, shaped like reference §3.3(a)."""
    events, item = message_events(0, chunks)
    terminal = {"type": "response.completed", "response": finished([item])}
    return numbered([*opening(), *events, terminal])


def reasoning_tool_stream() -> list[Event]:
    """Reasoning with a two-part summary, then a function call (reference §3.3(b) and (c))."""
    summaries = [("**Adding**", " numbers"), ("Then", " call the tool.")]
    reasoning = {"id": RS_ID, "type": "reasoning", "encrypted_content": "gAAAAAB"}
    events: list[Event] = [
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {**reasoning, "summary": []},
        }
    ]
    parts = []
    for summary_index, deltas in enumerate(summaries):
        where = {"item_id": RS_ID, "output_index": 0, "summary_index": summary_index}
        part = {"type": "summary_text", "text": "".join(deltas)}
        parts.append(part)
        events.append(
            {
                "type": "response.reasoning_summary_part.added",
                **where,
                "part": {"type": "summary_text", "text": ""},
            }
        )
        events += [
            {
                "type": "response.reasoning_summary_text.delta",
                **where,
                "delta": d,
                "obfuscation": "x",
            }
            for d in deltas
        ]
        events.append(
            {"type": "response.reasoning_summary_text.done", **where, "text": part["text"]}
        )
        events.append({"type": "response.reasoning_summary_part.done", **where, "part": part})
    reasoning_done = {**reasoning, "summary": parts}
    events.append({"type": "response.output_item.done", "output_index": 0, "item": reasoning_done})

    call = {"id": FC_ID, "type": "function_call", "call_id": "call_AB6", "name": "calculator"}
    arguments = ['{"a":', "12,", '"b":7}']
    where = {"item_id": FC_ID, "output_index": 1}
    call_done = {**call, "status": "completed", "arguments": "".join(arguments)}
    events.append(
        {
            "type": "response.output_item.added",
            "output_index": 1,
            "item": {**call, "status": "in_progress", "arguments": ""},
        }
    )
    events += [
        {"type": "response.function_call_arguments.delta", **where, "delta": d} for d in arguments
    ]
    events.append(
        {
            "type": "response.function_call_arguments.done",
            **where,
            "arguments": call_done["arguments"],
            "name": "calculator",
        }
    )
    events.append({"type": "response.output_item.done", "output_index": 1, "item": call_done})
    settings = {"reasoning": {"effort": "high", "summary": "detailed"}, "tools": [TOOL]}
    terminal = {
        "type": "response.completed",
        "response": finished([reasoning_done, call_done], **settings),
    }
    return numbered([*opening(**settings), *events, terminal])


TOOL = {
    "type": "function",
    "name": "calculator",
    "description": "Add two numbers.",
    "parameters": {"type": "object", "properties": {"a": {"type": "number"}}},
    "strict": True,
}


def raw_reasoning_stream() -> list[Event]:
    """Raw reasoning text under the SDK event names (`response.reasoning_text.*`), then text."""
    where = {"item_id": RS_ID, "output_index": 0, "content_index": 0}
    part = {"type": "reasoning_text", "text": "Think."}
    reasoning = {"id": RS_ID, "type": "reasoning", "summary": []}
    reasoning_done = {**reasoning, "content": [part]}
    events: list[Event] = [
        {"type": "response.output_item.added", "output_index": 0, "item": reasoning},
        {
            "type": "response.content_part.added",
            **where,
            "part": {"type": "reasoning_text", "text": ""},
        },
        {"type": "response.reasoning_text.delta", **where, "delta": "Thi"},
        {"type": "response.reasoning_text.delta", **where, "delta": "nk."},
        {"type": "response.reasoning_text.done", **where, "text": "Think."},
        {"type": "response.content_part.done", **where, "part": part},
        {"type": "response.output_item.done", "output_index": 0, "item": reasoning_done},
    ]
    message, message_done = message_events(1, ("Hi", "!"))
    terminal = {"type": "response.completed", "response": finished([reasoning_done, message_done])}
    return numbered([*opening(), *events, *message, terminal])


def failed_stream() -> list[Event]:
    """A failure after the opening: the live nested `error` event, then response.failed."""
    error = {
        "type": "server_error",
        "code": "server_error",
        "message": "An error occurred while processing the request.",
        "param": None,
    }
    failed = make_response(
        status="failed",
        error={"code": "server_error", "message": error["message"]},
    )
    return numbered(
        [
            *opening(),
            {"type": "error", "error": error},
            {"type": "response.failed", "response": failed},
        ]
    )


def shell_stream() -> list[Event]:
    """Shell commands (reference §3.3(e)): events the spec lacks and an item it cannot describe."""
    action: dict[str, Any] = {"commands": [], "max_output_length": None, "timeout_ms": None}
    item = {
        "id": SH_ID,
        "type": "shell_call",
        "status": "in_progress",
        "call_id": "call_p",
        "action": action,
    }
    done_action = {**action, "commands": ["ls -a ~/Desktop"], "max_output_length": 8912}
    done = {**item, "status": "completed", "action": done_action}
    where = {"output_index": 0, "command_index": 0}
    events: list[Event] = [
        {"type": "response.output_item.added", "output_index": 0, "item": item},
        {"type": "response.shell_call_command.added", **where, "command": ""},
        {"type": "response.shell_call_command.delta", **where, "delta": "ls", "obfuscation": "M"},
        {"type": "response.shell_call_command.delta", **where, "delta": " -a ~/Desktop"},
        {"type": "response.shell_call_command.done", **where, "command": "ls -a ~/Desktop"},
        {"type": "response.output_item.done", "output_index": 0, "item": done},
    ]
    terminal = {"type": "response.completed", "response": finished([done])}
    return numbered([*opening(), *events, terminal])


def index_of(events: list[Event], kind: str, nth: int = 0) -> int:
    return [i for i, e in enumerate(events) if e["type"] == kind][nth]


# --------------------------------------------------------------------------------------------
# validate_response_resource
# --------------------------------------------------------------------------------------------


def test_helper_fills_every_required_field() -> None:
    required = spec_schema("ResponseResource")["required"]
    assert len(required) == 31
    assert set(required) <= set(make_response())


def test_valid_responses_pass() -> None:
    validate_response_resource(make_response())
    validate_response_resource(text_stream()[-1]["response"])
    validate_response_resource(reasoning_tool_stream()[-1]["response"])


def test_echoed_json_schema_is_accepted() -> None:
    """The one intentional relaxation: text.format.schema may hold the request's schema."""
    fmt = {
        "type": "json_schema",
        "name": "answer",
        "description": None,
        "schema": {"type": "object", "properties": {"a": {"type": "string"}}},
        "strict": True,
    }
    validate_response_resource(make_response(text={"format": fmt, "verbosity": "medium"}))
    validate_response_resource(make_response(text={"format": {**fmt, "schema": None}}))
    with pytest.raises(AssertionError, match=r"\$\.text\.format\.schema"):
        validate_response_resource(make_response(text={"format": {**fmt, "schema": "nope"}}))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("temperature", None),
        ("top_p", None),
        ("store", None),
        ("service_tier", None),
        ("truncation", "off"),
        ("created_at", "yesterday"),
    ],
)
def test_non_nullable_fields_are_not_relaxed(field: str, value: object) -> None:
    with pytest.raises(AssertionError, match=rf"\$\.{field}: "):
        validate_response_resource(make_response(**{field: value}))


def test_missing_field_is_reported() -> None:
    response = make_response()
    del response["prompt_cache_key"]
    with pytest.raises(AssertionError, match="'prompt_cache_key' is a required property"):
        validate_response_resource(response)


def test_errors_inside_one_of_name_the_real_field() -> None:
    """A bad part deep in `output` is reported at its path, not as 'not valid under any'."""
    [item] = text_stream()[-1]["response"]["output"]
    del item["content"][0]["annotations"]
    with pytest.raises(AssertionError) as caught:
        validate_response_resource(make_response(output=[item]))
    assert "$.output[0].content[0]: 'annotations' is a required property" in str(caught.value)


def test_non_object_is_rejected() -> None:
    with pytest.raises(AssertionError, match="JSON object"):
        validate_response_resource([])  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# validate_stream_event
# --------------------------------------------------------------------------------------------


def test_every_event_of_the_valid_streams_validates() -> None:
    for stream in (text_stream(), reasoning_tool_stream(), raw_reasoning_stream(), failed_stream()):
        for event in stream:
            validate_stream_event(event)


def test_sdk_reasoning_text_names_use_the_spec_reasoning_schemas() -> None:
    event = {
        "type": "response.reasoning_text.delta",
        "sequence_number": 3,
        "item_id": RS_ID,
        "output_index": 0,
        "delta": "x",
    }
    with pytest.raises(AssertionError, match=r"(?s)as response\.reasoning\.delta.*content_index"):
        validate_stream_event(event)
    validate_stream_event({**event, "content_index": 0})


def test_error_event_must_be_nested() -> None:
    flat = {
        "type": "error",
        "sequence_number": 2,
        "code": "server_error",
        "message": "boom",
        "param": None,
    }
    with pytest.raises(AssertionError, match="'error' is a required property"):
        validate_stream_event(flat)


def test_lifecycle_events_validate_the_embedded_response() -> None:
    event = text_stream()[0]
    event["response"]["temperature"] = None
    with pytest.raises(AssertionError, match=r"\$\.response\.temperature"):
        validate_stream_event(event)


def test_events_unknown_to_the_spec_need_only_type_and_sequence_number() -> None:
    event = {"type": "response.shell_call_command.added", "sequence_number": 3, "anything": 1}
    validate_stream_event(event)
    validate_stream_event({"type": "response.custom_tool_call_input.delta", "sequence_number": 4})
    with pytest.raises(AssertionError, match="sequence_number"):
        validate_stream_event({"type": "response.shell_call_command.added"})
    with pytest.raises(AssertionError, match="sequence_number"):
        validate_stream_event({**event, "sequence_number": True})
    with pytest.raises(AssertionError, match="type"):
        validate_stream_event({"sequence_number": 1})


# --------------------------------------------------------------------------------------------
# check_stream_grammar: streams that must pass
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build", [text_stream, reasoning_tool_stream, raw_reasoning_stream, failed_stream]
)
def test_valid_streams_pass(build: Callable[[], list[Event]]) -> None:
    check_stream_grammar(build())


def test_background_stream_may_be_queued_first() -> None:
    events = text_stream()
    queued = make_response(status="queued", background=True)
    events[0]["response"] = copy.deepcopy(queued)
    events.insert(1, {"type": "response.queued", "response": queued})
    check_stream_grammar(numbered(events))


def test_incomplete_stream_passes() -> None:
    events = text_stream()
    item = events[-2]["item"]
    item["status"] = "incomplete"
    events[-1] = {
        "type": "response.incomplete",
        "sequence_number": events[-1]["sequence_number"],
        "response": finished(
            [item], status="incomplete", incomplete_details={"reason": "max_output_tokens"}
        ),
    }
    check_stream_grammar(events)


def test_shell_stream_passes_the_grammar_but_not_the_spec() -> None:
    """The spec's ItemField has no shell_call (nor apply_patch_call, custom_tool_call)."""
    events = shell_stream()
    check_stream_grammar(events, validate=False)
    with pytest.raises(AssertionError, match="schema"):
        check_stream_grammar(events)


# --------------------------------------------------------------------------------------------
# check_stream_grammar: broken streams
# --------------------------------------------------------------------------------------------


def skip_sequence_number(events: list[Event]) -> None:
    for event in events[4:]:
        event["sequence_number"] += 1


def drop_created(events: list[Event]) -> list[Event]:
    return numbered(events[1:])


def drop_in_progress(events: list[Event]) -> list[Event]:
    return numbered([events[0], *events[2:]])


def two_terminal_events(events: list[Event]) -> list[Event]:
    return numbered([*events, events[-1]])


def event_after_terminal(events: list[Event]) -> list[Event]:
    return numbered([*events, events[index_of(events, "response.output_text.delta")]])


def no_terminal_event(events: list[Event]) -> list[Event]:
    return events[:-1]


def change_delta(events: list[Event]) -> None:
    events[index_of(events, "response.output_text.delta", 1)]["delta"] = " were"


def item_done_without_added(events: list[Event]) -> list[Event]:
    keep = ("response.created", "response.in_progress", "response.output_item.done")
    return numbered([e for e in events if e["type"] in keep or e is events[-1]])


def change_terminal_output(events: list[Event]) -> None:
    events[-1]["response"]["output"][0]["content"][0]["text"] = "Something else."


def drop_terminal_output(events: list[Event]) -> None:
    events[-1]["response"]["output"] = []


def wrong_item_id(events: list[Event]) -> None:
    events[index_of(events, "response.output_text.delta")]["item_id"] = "msg_other"


def output_index_from_one(events: list[Event]) -> None:
    for event in events:
        if "output_index" in event:
            event["output_index"] = 1


def part_text_mismatch(events: list[Event]) -> None:
    events[index_of(events, "response.content_part.done")]["part"]["text"] = "Here are notes."


def text_done_after_part_done(events: list[Event]) -> list[Event]:
    text_done = index_of(events, "response.output_text.done")
    moved = events.pop(text_done)
    events.insert(text_done + 1, moved)
    return numbered(events)


def item_content_mismatch(events: list[Event]) -> None:
    done = events[index_of(events, "response.output_item.done")]["item"]
    done["content"][0]["text"] = "Other."
    events[-1]["response"]["output"] = [copy.deepcopy(done)]


def error_before_completed(events: list[Event]) -> list[Event]:
    error = {"type": "server_error", "code": None, "message": "boom", "param": None}
    return numbered([*events[:-1], {"type": "error", "error": error}, events[-1]])


def wrong_terminal_status(events: list[Event]) -> None:
    events[-1]["response"]["status"] = "incomplete"


def other_response_id(events: list[Event]) -> None:
    events[-1]["response"]["id"] = "resp_other"


def delta_outside_part(events: list[Event]) -> list[Event]:
    delta = events[index_of(events, "response.output_text.delta")]
    return numbered([*events[:2], events[2], delta, *events[3:]])


def schema_violation(events: list[Event]) -> None:
    events[0]["response"]["temperature"] = None


def item_done_twice(events: list[Event]) -> list[Event]:
    done = events[index_of(events, "response.output_item.done")]
    return numbered([*events[:-1], done, events[-1]])


BROKEN_TEXT_STREAMS: list[tuple[Callable[[list[Event]], Any], str]] = [
    (skip_sequence_number, r"sequence_number=5 .*: sequence_number must be 4"),
    (
        drop_created,
        r"sequence_number=0 \(response\.in_progress\).*first event must be response\.created",
    ),
    (drop_in_progress, r"must open with response\.created"),
    (two_terminal_events, r"response\.completed\): second terminal event"),
    (event_after_terminal, r"event after the terminal response\.completed"),
    (no_terminal_event, r"ended without a terminal event"),
    (change_delta, r"output_text\.done\): concatenated response\.output_text\.delta deltas"),
    (item_done_without_added, r"output_item\.done for output_index 0 without a preceding"),
    (change_terminal_output, r"response\.output differs .*output\[0\]"),
    (drop_terminal_output, r"response\.output differs .*0 items in output, 1 output_item\.done"),
    (wrong_item_id, r"item_id 'msg_other' does not match"),
    (output_index_from_one, r"output_index is 1, expected 0"),
    (part_text_mismatch, r"content_part\.done\): part\.text .* differs"),
    (text_done_after_part_done, r"content_part\.done before response\.output_text\.done"),
    (item_content_mismatch, r"item\.content .* differs from what was streamed"),
    (error_before_completed, r"`error` event must be directly followed by response\.failed"),
    (wrong_terminal_status, r"response\.status is 'incomplete', expected 'completed'"),
    (other_response_id, r"response\.id 'resp_other' differs"),
    (delta_outside_part, r"no content part 0 was added"),
    (
        schema_violation,
        r"(?s)sequence_number=0 \(response\.created\): schema: .*\$\.response\.temperature",
    ),
    (item_done_twice, r"output_item\.done for output_index 0 after its output_item\.done"),
]


@pytest.mark.parametrize(
    ("breaker", "message"), BROKEN_TEXT_STREAMS, ids=[b.__name__ for b, _ in BROKEN_TEXT_STREAMS]
)
def test_broken_text_streams_fail(breaker: Callable[[list[Event]], Any], message: str) -> None:
    events = text_stream()
    result = breaker(events)
    if result is not None:
        events = result
    with pytest.raises(AssertionError, match=message):
        check_stream_grammar(events)


def test_duplicate_item_ids_fail() -> None:
    first, first_done = message_events(0, ("A",))
    second, second_done = message_events(1, ("B",))
    terminal = {"type": "response.completed", "response": finished([first_done, second_done])}
    with pytest.raises(AssertionError, match=r"item id 'msg_\w+' is not unique"):
        check_stream_grammar(numbered([*opening(), *first, *second, terminal]))


def test_function_call_argument_mismatch_fails() -> None:
    events = reasoning_tool_stream()
    events[index_of(events, "response.function_call_arguments.done")]["arguments"] = "{}"
    with pytest.raises(AssertionError, match=r"function_call_arguments\.delta deltas"):
        check_stream_grammar(events)


def test_function_call_item_arguments_must_match_the_stream() -> None:
    events = reasoning_tool_stream()
    done = events[index_of(events, "response.output_item.done", 1)]["item"]
    done["arguments"] = "{}"
    events[-1]["response"]["output"][1]["arguments"] = "{}"
    with pytest.raises(AssertionError, match=r"item\.arguments '\{\}' differs"):
        check_stream_grammar(events)


def test_reasoning_summary_mismatch_fails() -> None:
    events = reasoning_tool_stream()
    events[index_of(events, "response.reasoning_summary_text.done", 1)]["text"] = "Then stop."
    with pytest.raises(AssertionError, match=r"reasoning_summary_text\.delta deltas"):
        check_stream_grammar(events)


def test_summary_index_must_count_up() -> None:
    events = reasoning_tool_stream()
    for event in events:
        if event.get("summary_index") == 1:
            event["summary_index"] = 2
    with pytest.raises(AssertionError, match="summary_index is 2, expected 1"):
        check_stream_grammar(events)


def test_sub_event_on_wrong_item_type_fails() -> None:
    events = reasoning_tool_stream()
    delta = index_of(events, "response.function_call_arguments.delta")
    events[delta].update(item_id=RS_ID, output_index=0)
    moved = events.pop(delta)
    events.insert(3, moved)
    with pytest.raises(AssertionError, match="on a 'reasoning' item"):
        check_stream_grammar(numbered(events))


def test_shell_command_mismatch_fails() -> None:
    events = shell_stream()
    events[index_of(events, "response.shell_call_command.done")]["command"] = "ls"
    with pytest.raises(AssertionError, match=r"shell_call_command\.delta deltas"):
        check_stream_grammar(events, validate=False)


def test_failed_stream_needs_response_error() -> None:
    events = failed_stream()
    events[-1]["response"]["error"] = None
    with pytest.raises(AssertionError, match=r"must carry `response\.error`"):
        check_stream_grammar(events, validate=False)


def test_empty_stream_fails() -> None:
    with pytest.raises(AssertionError, match="no events"):
        check_stream_grammar([])
