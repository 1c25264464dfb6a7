"""A scripted, deterministic coding model behind an OpenAI-compatible API, for Codex tests.

It speaks `/v1/chat/completions` (tools → `tool_calls`) and `/v1/responses` (function and
custom tool calls as output items, a sealed reasoning item each turn), both streamed, and
plays one script, chosen by how many tool results follow the last user message:

  0  edit:  `apply_patch` (the tool of that name, else `apply_patch <<'EOF'` run through
            the shell tool) changing greeting.py to print "hello, thinkgate";
  1  check: the shell tool runs `python3 greeting.py`;
  2+ done:  a final message, "CHECK PASSED" when the check's output has the new greeting.

`GET /stats` returns each request's body and headers, for the tests to inspect. Responses
replies carry a turn state (`x-codex-turn-state`) and the `service_tier` that served.
Run: `python -m tests.support.codex_standin PORT`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from tests.support.sse import (
    DONE,
    ChatFrames,
    event,
    message,
    message_events,
    model_routes,
    response_start,
    response_usage,
    serve,
)

EXPECTED = "hello, thinkgate"
PATCH = (
    "*** Begin Patch\n*** Update File: greeting.py\n@@\n"
    f'-print("hello")\n+print("{EXPECTED}")\n*** End Patch\n'
)
CHECK = "python3 greeting.py"
REQUESTS: list[dict[str, Any]] = []
USAGE = (120, 12)
CHAT = ChatFrames("chatcmpl-codex", "codex-standin")


def _step(results_after_user: int) -> str:
    return ("edit", "check")[results_after_user] if results_after_user < 2 else "done"


def _call(step: str, tools: dict[str, str]) -> tuple[str, str, str]:
    """(tool name, its kind "function"/"custom", the arguments or input) for this step."""
    if step == "edit" and "apply_patch" in tools:
        kind = tools["apply_patch"]
        return "apply_patch", kind, PATCH if kind == "custom" else json.dumps({"input": PATCH})
    command = CHECK if step == "check" else f"apply_patch <<'EOF'\n{PATCH}EOF\n"
    if "exec_command" in tools:
        return "exec_command", "function", json.dumps({"cmd": command})
    if "shell_command" in tools:
        return "shell_command", "function", json.dumps({"command": command})
    return "shell", "function", json.dumps({"command": ["bash", "-lc", command]})


def _final_text(last_output: str) -> str:
    verdict = "CHECK PASSED" if EXPECTED in last_output else "CHECK FAILED"
    return f"{verdict}: greeting.py now prints {EXPECTED!r}."


# --- chat completions -------------------------------------------------------------------


def _chat_tools(body: dict[str, Any]) -> dict[str, str]:
    tools: dict[str, str] = {}
    for tool in body.get("tools") or []:
        kind = tool.get("type", "function")
        tools[str((tool.get(kind) or {}).get("name", ""))] = kind
    return tools


def _chat_progress(messages: list[dict[str, Any]]) -> tuple[int, str]:
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    results = [m for m in messages[last_user + 1 :] if m.get("role") == "tool"]
    content = results[-1].get("content", "") if results else ""
    if isinstance(content, list):
        content = "".join(str(part.get("text", "")) for part in content)
    return len(results), str(content)


def _chat_stream(body: dict[str, Any]) -> Iterator[str]:
    count, last_output = _chat_progress(body.get("messages") or [])
    step = _step(count)
    yield CHAT.chunk({"role": "assistant", "content": ""})
    if step == "done":
        yield CHAT.chunk({"content": _final_text(last_output)})
        yield CHAT.chunk({}, "stop")
    else:
        name, kind, payload = _call(step, _chat_tools(body))
        call: dict[str, Any] = {"index": 0, "id": f"call_{step}", "type": kind}
        call[kind] = {"name": name, "input" if kind == "custom" else "arguments": payload}
        yield CHAT.chunk({"tool_calls": [call]})
        yield CHAT.chunk({}, "tool_calls")
    yield CHAT.usage(*USAGE)
    yield DONE


# --- responses --------------------------------------------------------------------------


def _responses_tools(body: dict[str, Any]) -> dict[str, str]:
    return {str(t.get("name", "")): str(t.get("type")) for t in body.get("tools") or []}


def _responses_progress(items: list[dict[str, Any]]) -> tuple[int, str]:
    last_user = max((i for i, it in enumerate(items) if it.get("role") == "user"), default=-1)
    kinds = ("function_call_output", "custom_tool_call_output")
    results = [it for it in items[last_user + 1 :] if it.get("type") in kinds]
    output = results[-1].get("output", "") if results else ""
    return len(results), output if isinstance(output, str) else json.dumps(output)


def _responses_stream(body: dict[str, Any]) -> Iterator[str]:
    items = body.get("input") or []
    count, last_output = _responses_progress(items if isinstance(items, list) else [])
    step = _step(count)
    response, created = response_start(f"resp_standin_{len(REQUESTS)}", body.get("model"))
    yield created
    reasoning = {"type": "reasoning", "id": f"rs_{step}", "summary": []}
    reasoning["encrypted_content"] = f"standin-sealed-{step}"
    yield event("response.output_item.added", output_index=0, item=reasoning)
    yield event("response.output_item.done", output_index=0, item=reasoning)
    if step == "done":
        whole = message(_final_text(last_output), "msg_done")
        yield from message_events(whole, 1)
        output = [reasoning, whole]
    else:
        name, kind, payload = _call(step, _responses_tools(body))
        field = "input" if kind == "custom" else "arguments"
        item = {"type": f"{kind}_call" if kind == "custom" else "function_call"}
        item = {**item, "id": f"fc_{step}", "call_id": f"call_{step}", "name": name}
        yield event("response.output_item.added", output_index=1, item={**item, field: ""})
        yield event("response.output_item.done", output_index=1, item={**item, field: payload})
        output = [reasoning, {**item, field: payload}]
    done = {**response, "status": "completed", "output": output, "usage": response_usage(*USAGE)}
    done["service_tier"] = _served_tier(body.get("service_tier"))
    yield event("response.completed", response=done)


def _served_tier(sent: str | None) -> str:
    """As OpenAI reports the tier that served: `fast` is `priority`; this account has no
    Scale Tier, so `scale` (and nothing asked) is served at `default`."""
    if sent in (None, "auto", "scale"):
        return "default"
    return "priority" if sent == "fast" else str(sent)


# --- app --------------------------------------------------------------------------------


async def _record(request: Request) -> dict[str, Any]:
    body: dict[str, Any] = await request.json()
    REQUESTS.append({"path": request.url.path, "headers": dict(request.headers), "body": body})
    return body


async def chat_completions(request: Request) -> Response:
    body = await _record(request)
    return StreamingResponse(_chat_stream(body), media_type="text/event-stream")


async def responses(request: Request) -> Response:
    """Answers with a turn state as OpenAI's Codex backend does: the one the request
    carries, else a new one (`x-codex-turn-state`)."""
    body = await _record(request)
    state = request.headers.get("x-codex-turn-state") or f"standin-turn-{len(REQUESTS)}"
    headers = {"x-codex-turn-state": state}
    return StreamingResponse(
        _responses_stream(body), media_type="text/event-stream", headers=headers
    )


app = Starlette(
    routes=model_routes(
        "codex-standin",
        lambda: {"requests": REQUESTS},
        chat=chat_completions,
        responses=responses,
    )
)

if __name__ == "__main__":
    serve(app)
