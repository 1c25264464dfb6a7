"""A Responses-native upstream with one prompt cache and one sealing key per account.

The account is the channel's API key (`Authorization: Bearer <account>`). Like OpenAI's, its
prompt cache is per account: `cached_tokens` counts only the longest prefix of the prompt
(instructions, then input items, one block each) that this account has seen before. Each
reply carries a reasoning item sealed for its account (`sealed:<account>:<n>`); a request
replaying a blob sealed by another account is refused with `invalid_encrypted_content`,
as OpenAI refuses one, and counted. `POST /down/<account>` makes an account answer 500,
`POST /up/<account>` brings it back; `GET /stats` lists what each request was.
Run: `python -m tests.support.affinity_standin PORT`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.support.sse import event, message, message_events, model_routes, response_usage, serve

CACHES: dict[str, set[str]] = {}  # account → prefix hashes it has seen
REQUESTS: list[dict[str, Any]] = []
FOREIGN: list[dict[str, str]] = []  # blobs refused: (account asked, blob)
DOWN: set[str] = set()


def _blocks(body: dict[str, Any]) -> list[str]:
    blocks = [json.dumps(body.get("instructions"))]
    items = body.get("input")
    if isinstance(items, str):
        items = [{"role": "user", "content": items}]
    return blocks + [json.dumps(item, sort_keys=True) for item in items or []]


def _tokens(block: str) -> int:
    return max(1, len(block) // 4)


def _cache(account: str, blocks: list[str]) -> tuple[int, int]:
    """(prompt tokens, cached tokens); the prompt's prefixes are then cached."""
    seen = CACHES.setdefault(account, set())
    digest = hashlib.sha256()
    total = cached = 0
    for block in blocks:
        digest.update(block.encode())
        total += _tokens(block)
        prefix = digest.hexdigest()
        if prefix in seen and cached == total - _tokens(block):
            cached = total
        seen.add(prefix)
    return total, cached


def _user_text(body: dict[str, Any]) -> str:
    items = body.get("input")
    if isinstance(items, str):
        return items
    for item in reversed(items or []):
        if item.get("role") == "user":
            content = item.get("content")
            if isinstance(content, str):
                return content
            return "".join(str(part.get("text", "")) for part in content or [])
    return ""


def _stream(account: str, turn: int, prompt: int, cached: int) -> Iterator[str]:
    response = {"id": f"resp_{account}_{turn}", "object": "response", "status": "in_progress"}
    yield event("response.created", response={**response, "output": []})
    reasoning = {"type": "reasoning", "id": f"rs_{turn}", "summary": []}
    reasoning["encrypted_content"] = f"sealed:{account}:{turn}"
    yield event("response.output_item.added", output_index=0, item=reasoning)
    yield event("response.output_item.done", output_index=0, item=reasoning)
    text = "Noted."  # the same words whoever answers: turns cost alike on every account
    whole = message(text, f"msg_{turn}")
    yield from message_events(whole, 1)
    usage = response_usage(prompt, 4, cached=cached)
    done = {**response, "status": "completed", "output": [reasoning, whole], "usage": usage}
    yield event("response.completed", response=done)


async def responses(request: Request) -> Response:
    body: dict[str, Any] = await request.json()
    account = request.headers.get("authorization", "").removeprefix("Bearer ")
    blobs = [
        str(item["encrypted_content"])
        for item in body.get("input") or []
        if isinstance(item, dict) and item.get("type") == "reasoning"
    ]
    record = {"account": account, "text": _user_text(body), "blobs": blobs}
    record |= {"prompt_cache_key": body.get("prompt_cache_key"), "status": 200}
    record["session_id"] = request.headers.get("session-id")
    REQUESTS.append(record)
    if account in DOWN:
        record["status"] = 500
        error = {"message": "this account is down", "type": "server_error", "code": None}
        return JSONResponse({"error": error}, status_code=500)
    foreign = [blob for blob in blobs if not blob.startswith(f"sealed:{account}:")]
    if foreign:
        record["status"] = 400
        FOREIGN.extend({"account": account, "blob": blob} for blob in foreign)
        error = {
            "message": "The encrypted content could not be verified.",
            "type": "invalid_request_error",
            "param": "input",
            "code": "invalid_encrypted_content",
        }
        return JSONResponse({"error": error}, status_code=400)
    prompt, cached = _cache(account, _blocks(body))
    record["cached"] = cached
    stream = _stream(account, len(REQUESTS), prompt, cached)
    return StreamingResponse(stream, media_type="text/event-stream")


async def set_down(request: Request) -> Response:
    DOWN.add(request.path_params["account"])
    return JSONResponse({"down": sorted(DOWN)})


async def set_up(request: Request) -> Response:
    DOWN.discard(request.path_params["account"])
    return JSONResponse({"down": sorted(DOWN)})


app = Starlette(
    routes=[
        *model_routes(
            "cached", lambda: {"requests": REQUESTS, "foreign": FOREIGN}, responses=responses
        ),
        Route("/down/{account}", set_down, methods=["POST"]),
        Route("/up/{account}", set_up, methods=["POST"]),
    ]
)

if __name__ == "__main__":
    serve(app)
