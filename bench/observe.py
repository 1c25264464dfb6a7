"""What the operations middleware (request id, metrics, access log) adds per request.

`Observe` is wrapped around an ASGI app that answers at once, called in-process N times,
against the bare app timed the same way; the difference is the middleware's own cost.
The access log goes to /dev/null through the real JSON formatter and handler.

    .venv/bin/python -m bench.observe [--calls 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from typing import Any

from thinkgate.api.observe import Observe
from thinkgate.ops import Drain, Metrics
from thinkgate.ops.logs import configure_logging


class _Route:
    path = "/v1/chat/completions"


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    scope["route"] = _Route
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"x"})


async def _per_call(app: Any, calls: int) -> float:
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/chat/completions",
        "headers": [(b"authorization", b"Bearer x")],
        "client": ("127.0.0.1", 1),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(_message: dict[str, Any]) -> None:
        pass

    for _ in range(1000):
        await app(dict(scope), receive, send)
    started = time.perf_counter()
    for _ in range(calls):
        await app(dict(scope), receive, send)
    return (time.perf_counter() - started) / calls * 1e6


async def _run(calls: int) -> None:
    bare = await _per_call(_app, calls)
    for access_log in (False, True):
        wrapped = Observe(_app, Metrics(), Drain(), access_log=access_log)
        cost = await _per_call(wrapped, calls) - bare
        print(f"access_log={access_log!s:5}  +{cost:.1f} µs per request (bare app {bare:.1f} µs)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000)
    configure_logging("json", "info")
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    with open("/dev/null", "w") as sink:
        handler.setStream(sink)
        asyncio.run(_run(parser.parse_args().calls))


if __name__ == "__main__":
    main()
