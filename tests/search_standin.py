"""A stand-in for the hosted web search tests: a search engine speaking SearXNG's JSON API,
the pages it finds, and a scripted model that calls `web_search` (chat and Responses).

  GET /search?q=…&format=json   SearXNG's answer (403 without format=json, as SearXNG);
                                 a query with "slow" never answers in time
  GET /page/{n}                  an HTML page (a search result)
  POST /v1/chat/completions      the scripted model, streamed: with a `web_search` tool and
  POST /v1/responses             no tool result after the user's message, it searches for
                                 the user's text ("twice": two searches at once); then it
                                 answers citing the first URL of the last result;
                                 "open the page" / "find" / "open evil": see `_plan`.
                                 Given a `web_search` tool itself (pass-through), the
                                 Responses model runs its own search (as OpenAI does)
  GET /stats                     the searches, page reads and model requests seen

Run: `python -m tests.search_standin PORT`.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import Iterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

SEEN: dict[str, list[Any]] = {"searches": [], "pages": [], "model": []}
USAGE = {"input": 100, "output": 10}


# --- the search engine ------------------------------------------------------------------


async def search(request: Request) -> Response:
    query = request.query_params.get("q", "")
    SEEN["searches"].append(dict(request.query_params))
    if request.query_params.get("format") != "json":
        return Response("Forbidden", status_code=403)
    if "slow" in query:
        await asyncio.sleep(10)  # thinkgate's provider timeout in the tests is 3 s
    base = f"http://127.0.0.1:{request.url.port}"
    results = [
        {
            "url": f"{base}/page/1",
            "title": "thinkgate release notes",
            "content": "thinkgate 2.0 runs hosted tools for any model.",
            "engine": "standin",
        },
        {
            "url": "https://docs.example.com/guide",
            "title": "A guide",
            "content": "How to configure a search provider.",
            "engine": "standin",
        },
        {
            "url": "https://example.org/elsewhere",
            "title": "Elsewhere",
            "content": "Something else entirely.",
            "engine": "standin",
        },
    ]
    return JSONResponse({"query": query, "number_of_results": len(results), "results": results})


async def page(request: Request) -> Response:
    SEEN["pages"].append(request.path_params["number"])
    return HTMLResponse(
        "<html><head><title>Release</title><script>var x = 1;</script></head><body>"
        "<h1>thinkgate 2.0</h1><p>Hosted web search, read from the page itself.</p>"
        "</body></html>"
    )


# --- the scripted model -----------------------------------------------------------------


Call = tuple[str, dict[str, str]]  # (function name, arguments)


def _plan(user: str, results: list[str], searchable: bool) -> tuple[list[Call], str]:
    """(calls to make now, or the answer's text). "open the page": search, then open the
    first result; "find": search, then find a phrase in it; "open evil": open a URL that
    no result named (refused)."""
    if searchable and not results:
        if "open evil" in user:
            return [("open_page", {"url": "http://127.0.0.1:1/secret?leak=1"})], ""
        queries = [user, f"{user} (again)"] if "twice" in user else [user]
        return [("web_search", {"query": q}) for q in queries], ""
    last = results[-1] if results else ""
    urls = re.findall(r"URL: (\S+)", last)
    if len(results) == 1 and urls and "open the page" in user:
        return [("open_page", {"url": urls[0]})], ""
    if len(results) == 1 and urls and "find" in user:
        return [("find_in_page", {"url": urls[0], "pattern": "from the page"})], ""
    if "failed" in last.lower():
        return [], "The search failed, so I cannot say."
    if last.startswith(("Page ", '"from the page" on ')):
        return [], f"The page says: {last[:200]}"
    return [], f"thinkgate runs hosted tools (see {urls[0]})." if urls else "No sources."


def _chunk(delta: dict[str, Any], finish: str | None = None) -> str:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    body = {"id": "chatcmpl-search", "object": "chat.completion.chunk", "created": 0}
    return f"data: {json.dumps({**body, 'model': 'search-standin', 'choices': [choice]})}\n\n"


def _chat_stream(body: dict[str, Any]) -> Iterator[str]:
    messages = body.get("messages") or []
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    user = str(messages[last_user].get("content")) if last_user >= 0 else ""
    results = [str(m.get("content")) for m in messages[last_user + 1 :] if m.get("role") == "tool"]
    names = {str((t.get("function") or {}).get("name")) for t in body.get("tools") or []}
    planned, text = _plan(user, results, "web_search" in names)
    yield _chunk({"role": "assistant", "content": ""})
    if planned:
        calls = [
            {
                "index": i,
                "id": f"call_{i}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(arguments)},
            }
            for i, (name, arguments) in enumerate(planned)
        ]
        yield _chunk({"tool_calls": calls})
        yield _chunk({}, "tool_calls")
    else:
        yield _chunk({"content": text})
        yield _chunk({}, "stop")
    usage = {"prompt_tokens": USAGE["input"], "completion_tokens": USAGE["output"]}
    usage["total_tokens"] = USAGE["input"] + USAGE["output"]
    yield f"data: {json.dumps({'id': 'chatcmpl-search', 'choices': [], 'usage': usage})}\n\n"
    yield "data: [DONE]\n\n"


def _event(kind: str, **fields: Any) -> str:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **fields})}\n\n"


def _user_text(item: dict[str, Any]) -> str:
    content = item.get("content")
    if isinstance(content, str):
        return content
    return "".join(str(part.get("text", "")) for part in content or [])


def _responses_stream(body: dict[str, Any]) -> Iterator[str]:
    items = body.get("input") or []
    last_user = max((i for i, it in enumerate(items) if it.get("role") == "user"), default=-1)
    user = _user_text(items[last_user]) if last_user >= 0 else ""
    results = [
        str(it.get("output"))
        for it in items[last_user + 1 :]
        if it.get("type") == "function_call_output"
    ]
    names = {str(t.get("name")) for t in body.get("tools") or []}
    planned, text = _plan(user, results, "web_search" in names)
    response = {"id": f"resp_search_{len(SEEN['model'])}", "object": "response"}
    response |= {"status": "in_progress", "model": body.get("model"), "output": []}
    yield _event("response.created", response=response)
    output: list[dict[str, Any]] = []
    if any(t.get("type") == "web_search" for t in body.get("tools") or []):
        yield from _runs_search_itself(user, response, body.get("include") or [])
        return
    for index, (name, arguments) in enumerate(planned):
        item = {"type": "function_call", "id": f"fc_{index}", "call_id": f"call_{index}"}
        item |= {"name": name, "status": "completed"}
        yield _event(
            "response.output_item.added", output_index=index, item={**item, "arguments": ""}
        )
        done = {**item, "arguments": json.dumps(arguments)}
        yield _event("response.output_item.done", output_index=index, item=done)
        output.append(done)
    if not planned:
        message = {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed"}
        part = {"type": "output_text", "text": text, "annotations": []}
        yield _event("response.output_item.added", output_index=0, item={**message, "content": []})
        yield _event("response.output_text.delta", output_index=0, content_index=0, delta=text)
        whole = {**message, "content": [part]}
        yield _event("response.output_item.done", output_index=0, item=whole)
        output.append(whole)
    usage = {"input_tokens": USAGE["input"], "output_tokens": USAGE["output"]}
    usage |= {"total_tokens": USAGE["input"] + USAGE["output"]}
    usage |= {"input_tokens_details": {"cached_tokens": 0}}
    usage |= {"output_tokens_details": {"reasoning_tokens": 0}}
    done = {**response, "status": "completed", "output": output, "usage": usage}
    yield _event("response.completed", response=done)


def _runs_search_itself(user: str, response: dict[str, Any], include: list[str]) -> Iterator[str]:
    """A Responses-native upstream with its own web search (as OpenAI): a `web_search_call`
    item and its events, then an answer citing its source, billed in its usage."""
    call: dict[str, Any] = {"type": "web_search_call", "id": "ws_upstream_1"}
    action: dict[str, Any] = {"type": "search", "query": user}
    if "web_search_call.action.sources" in include:
        action["sources"] = [{"type": "url", "url": "https://upstream.example/found"}]
    yield _event(
        "response.output_item.added",
        output_index=0,
        item={**call, "status": "in_progress", "action": {"type": "search"}},
    )
    for stage in ("in_progress", "searching", "completed"):
        yield _event(f"response.web_search_call.{stage}", output_index=0, item_id=call["id"])
    done = {**call, "status": "completed", "action": action}
    yield _event("response.output_item.done", output_index=0, item=done)
    text = "Found it: https://upstream.example/found"
    message = {"type": "message", "id": "msg_up", "role": "assistant", "status": "completed"}
    yield _event("response.output_item.added", output_index=1, item={**message, "content": []})
    yield _event("response.output_text.delta", output_index=1, content_index=0, delta=text)
    citation = {"type": "url_citation", "url": "https://upstream.example/found"}
    citation |= {"title": "Found", "start_index": 10, "end_index": len(text)}
    yield _event(
        "response.output_text.annotation.added",
        output_index=1,
        content_index=0,
        annotation_index=0,
        annotation=citation,
    )
    part = {"type": "output_text", "text": text, "annotations": [citation]}
    whole = {**message, "content": [part]}
    yield _event("response.output_item.done", output_index=1, item=whole)
    usage = {"input_tokens": 300, "output_tokens": 30, "total_tokens": 330}
    usage |= {"input_tokens_details": {"cached_tokens": 0}}
    usage |= {"output_tokens_details": {"reasoning_tokens": 0}}
    final = {**response, "status": "completed", "output": [done, whole], "usage": usage}
    yield _event("response.completed", response=final)


async def chat_completions(request: Request) -> Response:
    body = await request.json()
    SEEN["model"].append({"path": request.url.path, "body": body})
    return StreamingResponse(_chat_stream(body), media_type="text/event-stream")


async def responses(request: Request) -> Response:
    body = await request.json()
    SEEN["model"].append({"path": request.url.path, "body": body})
    return StreamingResponse(_responses_stream(body), media_type="text/event-stream")


async def models(_request: Request) -> Response:
    return JSONResponse({"object": "list", "data": [{"id": "search-standin", "object": "model"}]})


async def stats(_request: Request) -> Response:
    return JSONResponse(SEEN)


app = Starlette(
    routes=[
        Route("/search", search),
        Route("/page/{number}", page),
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/responses", responses, methods=["POST"]),
        Route("/v1/models", models),
        Route("/stats", stats),
    ]
)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
