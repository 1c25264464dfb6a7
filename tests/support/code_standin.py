"""A scripted model for the hosted code interpreter tests, on chat and Responses channels.

With a `code_interpreter` function offered and no tool output after the user's message, it
calls `code_interpreter` with the code after "run:" in the user's text ("run twice:" calls
it twice at once); once the output is back, it answers with the output's first line and
names the files written (so the answer can cite them).

  POST /v1/chat/completions, POST /v1/responses   streamed
  GET  /stats                                     the model requests seen

Run: `python -m tests.support.code_standin PORT`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from starlette.applications import Starlette

from tests.support.sse import (
    Call,
    ChatFrames,
    chat_turn,
    model_routes,
    response_start,
    responses_turn,
    scripted_responses,
    serve,
    streamed,
)

SEEN: dict[str, list[Any]] = {"model": []}
USAGE = (100, 10)
CHAT = ChatFrames("chatcmpl-code", "code-standin")


def _plan(user: str, outputs: list[str], offered: bool) -> tuple[list[Call], str]:
    """(the `code_interpreter` calls to make now, or the answer's text)."""
    match = re.search(r"run( twice)?:\s*(.*)", user, re.S)
    if offered and not outputs and match:
        call = ("code_interpreter", {"code": match.group(2)})
        return ([call, call] if match.group(1) else [call]), ""
    last = outputs[-1] if outputs else ""
    first = last.strip().splitlines()[0] if last.strip() else "nothing"
    files = re.findall(r"/mnt/data/(\S+) \(", last)
    answer = f"Result: {first}."
    return [], answer + (f" See {files[0]} for the file." if files else "")


def _chat_stream(body: dict[str, Any]) -> Iterator[str]:
    user, outputs, names = chat_turn(body)
    calls, text = _plan(user, outputs, "code_interpreter" in names)
    return CHAT.scripted(calls, text, USAGE)


def _responses_stream(body: dict[str, Any]) -> Iterator[str]:
    user, outputs, names = responses_turn(body)
    calls, text = _plan(user, outputs, "code_interpreter" in names)
    response, created = response_start(f"resp_code_{len(SEEN['model'])}", body.get("model"))
    yield created
    yield from scripted_responses(response, calls, text, USAGE)


app = Starlette(
    routes=model_routes(
        "code-standin",
        lambda: SEEN,
        chat=streamed(_chat_stream, SEEN["model"]),
        responses=streamed(_responses_stream, SEEN["model"]),
    )
)

if __name__ == "__main__":
    serve(app)
