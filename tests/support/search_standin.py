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

Run: `python -m tests.support.search_standin PORT`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from tests.support.sse import (
    Call,
    ChatFrames,
    chat_turn,
    event,
    message,
    message_events,
    model_routes,
    response_start,
    response_usage,
    responses_turn,
    scripted_responses,
    serve,
    streamed,
)

SEEN: dict[str, list[Any]] = {"searches": [], "pages": [], "model": []}
USAGE = (100, 10)
CHAT = ChatFrames("chatcmpl-search", "search-standin")


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


def _chat_stream(body: dict[str, Any]) -> Iterator[str]:
    user, results, names = chat_turn(body)
    planned, text = _plan(user, results, "web_search" in names)
    return CHAT.scripted(planned, text, USAGE)


def _responses_stream(body: dict[str, Any]) -> Iterator[str]:
    user, results, names = responses_turn(body)
    planned, text = _plan(user, results, "web_search" in names)
    response, created = response_start(f"resp_search_{len(SEEN['model'])}", body.get("model"))
    yield created
    if any(t.get("type") == "web_search" for t in body.get("tools") or []):
        yield from _runs_search_itself(user, response, body.get("include") or [])
        return
    yield from scripted_responses(response, planned, text, USAGE)


def _runs_search_itself(user: str, response: dict[str, Any], include: list[str]) -> Iterator[str]:
    """A Responses-native upstream with its own web search (as OpenAI): a `web_search_call`
    item and its events, then an answer citing its source, billed in its usage."""
    call: dict[str, Any] = {"type": "web_search_call", "id": "ws_upstream_1"}
    action: dict[str, Any] = {"type": "search", "query": user}
    if "web_search_call.action.sources" in include:
        action["sources"] = [{"type": "url", "url": "https://upstream.example/found"}]
    yield event(
        "response.output_item.added",
        output_index=0,
        item={**call, "status": "in_progress", "action": {"type": "search"}},
    )
    for stage in ("in_progress", "searching", "completed"):
        yield event(f"response.web_search_call.{stage}", output_index=0, item_id=call["id"])
    done = {**call, "status": "completed", "action": action}
    yield event("response.output_item.done", output_index=0, item=done)
    text = "Found it: https://upstream.example/found"
    citation = {"type": "url_citation", "url": "https://upstream.example/found"}
    citation |= {"title": "Found", "start_index": 10, "end_index": len(text)}
    whole = message(text, "msg_up", [citation])
    *opening, closing = message_events(whole, 1)  # the annotation comes before the done
    yield from opening
    yield event(
        "response.output_text.annotation.added",
        output_index=1,
        content_index=0,
        annotation_index=0,
        annotation=citation,
    )
    yield closing
    usage = response_usage(300, 30)
    final = {**response, "status": "completed", "output": [done, whole], "usage": usage}
    yield event("response.completed", response=final)


app = Starlette(
    routes=[
        Route("/search", search),
        Route("/page/{number}", page),
        *model_routes(
            "search-standin",
            lambda: SEEN,
            chat=streamed(_chat_stream, SEEN["model"]),
            responses=streamed(_responses_stream, SEEN["model"]),
        ),
    ]
)

if __name__ == "__main__":
    serve(app)
