"""The fixed-response upstream: a bare ASGI app (no framework) so it is never the bottleneck.

Answers `POST /v1/chat/completions` with one fixed completion, as JSON or (when the body
says `"stream": true`) as SSE chunks followed by a usage chunk and `[DONE]`.

    python -m bench.overhead.standin PORT
"""

from __future__ import annotations

import sys
from typing import Any

import orjson

_TEXT = ["Hello", "!", " How", " can", " I", " help", "?"]
_USAGE = {
    "prompt_tokens": 12,
    "completion_tokens": len(_TEXT),
    "total_tokens": 12 + len(_TEXT),
    "prompt_tokens_details": {"cached_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 0},
}
_BASE = {"id": "chatcmpl-fixed", "created": 1700000000, "model": "fixed"}
COMPLETION = orjson.dumps(
    {
        **_BASE,
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "".join(_TEXT)},
                "finish_reason": "stop",
            }
        ],
        "usage": _USAGE,
    }
)


def _chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
    choices = [{"index": 0, "delta": delta, "finish_reason": finish}] if delta or finish else []
    body = {**_BASE, "object": "chat.completion.chunk", "choices": choices, **extra}
    return b"data: " + orjson.dumps(body) + b"\n\n"


STREAM = b"".join(
    [
        _chunk({"role": "assistant", "content": ""}),
        *(_chunk({"content": piece}) for piece in _TEXT),
        _chunk({}, "stop"),
        _chunk({}, None, usage=_USAGE),
        b"data: [DONE]\n\n",
    ]
)
MODELS = orjson.dumps({"object": "list", "data": [{"id": "fixed", "object": "model"}]})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = await read_body(receive)
    if scope["method"] == "GET":
        await _send(send, 200, b"application/json", MODELS)
    elif b'"stream":true' in body.replace(b" ", b""):
        await _send(send, 200, b"text/event-stream", STREAM)
    else:
        await _send(send, 200, b"application/json", COMPLETION)


async def read_body(receive: Any) -> bytes:
    """A request's whole body (the bare ASGI apps of this benchmark)."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


async def _send(send: Any, status: int, content_type: bytes, payload: bytes) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def serve(asgi_app: Any, port: int) -> None:
    """On loopback, quiet, with the fast parser and loop (the benchmark's bare apps)."""
    import uvicorn

    uvicorn.run(
        asgi_app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        http="httptools",
        loop="uvloop",
    )


if __name__ == "__main__":
    serve(app, int(sys.argv[1]))
