"""thinkgate's command line with a timestamp at each point of a request's path
(`bench.overhead.phases`). On SIGTERM it writes, to `$THINKGATE_PHASES_REPORT`, the median
time between successive points over every request that passed them all, and exits."""

from __future__ import annotations

import functools
import importlib
import inspect
import itertools
import json
import os
import signal
import statistics
import time
from collections.abc import Callable
from typing import Any

# (module, attribute path, when, point): a timestamp `before` or `after` each call, the
# first of a request unless noted; points in path order
PROBES = [
    (
        "thinkgate.api.http_protocol",
        "HeadersWithBodyProtocol.on_headers_complete",
        "after",
        "headers parsed, ASGI task made",
    ),
    ("thinkgate.api.observe", "Observe.__call__", "before", "our outer middleware"),
    ("thinkgate.api.chat", "generation_caller", "before", "the route's endpoint"),
    ("thinkgate.api.generation", "require_key", "after", "the key checked"),
    ("thinkgate.api.chat", "generation_caller", "after", "the account"),
    ("thinkgate.api.chat", "parse_body", "after", "the body parsed"),
    ("thinkgate.api.chat", "chat_call_from_body", "after", "the canonical request"),
    ("thinkgate.engine.pipeline", "ResponsesPipeline.prepare", "after", "prepared"),
    ("thinkgate.gateway.account", "Account.admit", "before", "admission begun"),
    ("thinkgate.gateway.account", "Account.admit", "after", "admitted"),
    ("thinkgate.backends.upstream.http1", "_Connection.send", "before", "upstream request written"),
    (
        "thinkgate.backends.upstream.http1",
        "_Connection.data_received",
        "before",
        "upstream reply in",
    ),
    (
        "thinkgate.backends.upstream.channel",
        "UpstreamStream.read_first",
        "after",
        "first batch read",
    ),
    ("thinkgate.gateway.account", "Bill.settle_now", "after", "completion assembled and billed"),
    ("thinkgate.engine.response_run", "ResponseRun.collect", "after", "run collected"),
    ("thinkgate.api.chat", "JSONResponse", "after", "JSON response made"),
    ("thinkgate.api.http_protocol", "_HeadersWithBody.write", "last", "reply written"),
]
FIRST = "request bytes in"
NEXT = "next request in"
WARMUP = 200  # requests left out at the start

_current: dict[str, int] = {}
_requests: list[dict[str, int]] = []


def _stamp(point: str, *, last: bool = False) -> None:
    if last or point not in _current:
        _current[point] = time.perf_counter_ns()


def _wrapped(original: Callable[..., Any], when: str, point: str) -> Callable[..., Any]:
    """A stamp `before` is taken at the call, for a coroutine function too (the call makes
    the coroutine, which its caller awaits at once); `after` and `last` once it returns."""
    last = when == "last"
    if when == "before":

        @functools.wraps(original)
        def stamp_first(*args: Any, **kwargs: Any) -> Any:
            _stamp(point)
            return original(*args, **kwargs)

        return stamp_first
    if inspect.iscoroutinefunction(original):

        @functools.wraps(original)
        async def stamp_after_await(*args: Any, **kwargs: Any) -> Any:
            result = await original(*args, **kwargs)
            _stamp(point, last=last)
            return result

        return stamp_after_await

    @functools.wraps(original)
    def stamp_after(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        _stamp(point, last=last)
        return result

    return stamp_after


def _install() -> None:
    for module_name, path, when, point in PROBES:
        owner: Any = importlib.import_module(module_name)
        *parents, name = path.split(".")
        for parent in parents:
            owner = getattr(owner, parent)
        setattr(owner, name, _wrapped(getattr(owner, name), when, point))
    protocol: Any = importlib.import_module("thinkgate.api.http_protocol").HeadersWithBodyProtocol
    received = protocol.data_received

    def data_received(self: Any, data: bytes) -> None:
        if "reply written" in _current:  # the next request on the connection begins
            _current[NEXT] = time.perf_counter_ns()
            _requests.append(dict(_current))
            _current.clear()
        _stamp(FIRST)
        received(self, data)

    protocol.data_received = data_received


def _report() -> None:
    measured = _requests[WARMUP:]
    every = [FIRST, *dict.fromkeys(point for *_, point in PROBES), NEXT]
    # a point most requests never pass (a stream makes no JSON response) is left out
    points = [p for p in every if sum(p in r for r in measured) > 0.9 * len(measured)]
    complete = [r for r in measured if all(p in r for p in points)]
    steps = [
        (start, end, statistics.median((r[end] - r[start]) / 1000 for r in complete))
        for start, end in itertools.pairwise(points)
    ]
    with open(os.environ["THINKGATE_PHASES_REPORT"], "w") as out:
        json.dump(steps, out)


def main() -> None:
    _install()
    signal.signal(signal.SIGTERM, lambda *_: (_report(), os._exit(0)))
    from thinkgate.cli import main as thinkgate

    thinkgate()


if __name__ == "__main__":
    main()
