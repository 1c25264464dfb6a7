"""The floor: the same server stack as thinkgate with none of a gateway's work.

uvicorn (httptools, uvloop) runs a bare ASGI app that passes each request's body to the
stand-in upstream through thinkgate's default channel transport (`http1.Pool`) and sends
the reply back: JSON re-encoded, SSE forwarded as it arrives. No key, limit, parsing into
a request, ledger or log. What thinkgate adds above this row is its own work; what this
row adds above `direct` is one more HTTP hop in Python, which no gateway avoids.

    python -m bench.overhead.floor PORT UPSTREAM_BASE_URL
"""

from __future__ import annotations

import sys
from typing import Any

import orjson

from bench.overhead.standin import read_body, serve
from thinkgate.backends.upstream.http1 import Pool
from thinkgate.backends.upstream.transport import TransportOptions

_JSON = [(b"content-type", b"application/json")]
_SSE = [(b"content-type", b"text/event-stream")]


def app_for(upstream: str) -> Any:
    pool = Pool(TransportOptions(upstream, headers={}, connect_timeout=5.0, read_timeout=30.0))
    headers = {"Content-Type": "application/json"}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        request = orjson.loads(await read_body(receive))
        reply = await pool.request("POST", "chat/completions", orjson.dumps(request), headers)
        if request.get("stream"):
            await send({"type": "http.response.start", "status": reply.status, "headers": _SSE})
            while (chunk := await reply.read()) is not None:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            reply.release()
            await send({"type": "http.response.body", "body": b""})
            return
        completion = orjson.loads(await reply.read_all(1 << 20))
        reply.release()
        await send({"type": "http.response.start", "status": reply.status, "headers": _JSON})
        await send({"type": "http.response.body", "body": orjson.dumps(completion)})

    return app


if __name__ == "__main__":
    serve(app_for(sys.argv[2]), int(sys.argv[1]))
