"""What every Python client script shares: where thinkgate is, and running named cases.

A script is run with `.clients/py/bin/python` (the clients' own virtualenv, not the
project's) and prints one JSON object: for each case, `{"ok": true, ...what it saw}` or
`{"ok": false, "error": ..., "traceback": ...}`, so one broken path does not hide the others.
Arguments, if any, name the cases to run (for debugging one path by hand).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any

BASE_URL = os.environ["THINKGATE_BASE_URL"]  # ends in /v1
API_KEY = os.environ["THINKGATE_API_KEY"]
MODEL = os.environ.get("THINKGATE_MODEL", "gpt-5.1")
MAX_TOKENS = 64  # the tiny model rambles: keep every answer short (at temperature 0)

# A schema every client can express, small enough to fill in a few tokens.
CITY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"city": {"type": "string", "maxLength": 12}, "rank": {"type": "integer"}},
    "required": ["city", "rank"],
    "additionalProperties": False,
}


def check(condition: object, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def run_cases(cases: dict[str, Callable[[], Any]]) -> None:
    """Run the cases (plain or async) in one event loop, and print what each saw."""
    asyncio.run(_run(cases, sys.argv[1:] or list(cases)))


async def _run(cases: dict[str, Callable[[], Any]], wanted: list[str]) -> None:
    results: dict[str, dict[str, Any]] = {}
    for name in wanted:
        try:
            value = cases[name]()
            if inspect.isawaitable(value):
                value = await value
            results[name] = {"ok": True, **(value or {})}
        except Exception as exc:
            results[name] = {
                "ok": False,
                "error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc(),
            }
        print(f"{name}: {json.dumps(results[name])[:2000]}", file=sys.stderr, flush=True)
    print(json.dumps(results))
