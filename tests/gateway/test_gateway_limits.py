"""Rate limits per key: RPM and TPM over a sliding minute, 429 `rate_limit_exceeded` with
OpenAI's x-ratelimit-* headers and Retry-After; the headers also on success.

Requests are sent at once: admission happens when the prompt is tokenised, before the
model's turn, so all of them fall in one minute however slow the generations are.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import openai

from tests.support.gateway_support import Gateway, gateway_fixture  # noqa: F401

ASK: dict[str, Any] = {
    "model": "gpt-5.1",
    "input": "Say hi.",
    "max_output_tokens": 16,
    "temperature": 0,
}
Outcome = Any  # a raw SDK response, or the RateLimitError


def at_once(calls: list[Callable[[], Any]]) -> tuple[list[Any], list[openai.RateLimitError]]:
    def run(call: Callable[[], Any]) -> Outcome:
        try:
            return call()
        except openai.RateLimitError as error:
            return error

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        outcomes = list(pool.map(run, calls))
    refused = [o for o in outcomes if isinstance(o, openai.RateLimitError)]
    return [o for o in outcomes if not isinstance(o, openai.RateLimitError)], refused


def test_requests_per_minute(gateway: Gateway) -> None:
    _, secret = gateway.key(rpm=2)
    client = gateway.sdk(secret)
    admitted, refused = at_once([lambda: client.responses.with_raw_response.create(**ASK)] * 3)
    assert len(admitted) == 2 and len(refused) == 1
    for raw in admitted:
        assert raw.headers["x-ratelimit-limit-requests"] == "2"
        assert raw.headers["x-ratelimit-reset-requests"].endswith("s")
    remaining = sorted(raw.headers["x-ratelimit-remaining-requests"] for raw in admitted)
    assert remaining == ["0", "1"]
    error = refused[0]
    assert error.code == "rate_limit_exceeded"
    assert error.response.headers["x-ratelimit-limit-requests"] == "2"
    assert error.response.headers["x-ratelimit-remaining-requests"] == "0"
    assert int(error.response.headers["retry-after"]) >= 1
    assert set(error.response.json()["error"]) == {"message", "type", "param", "code"}


def test_tokens_per_minute(gateway: Gateway) -> None:
    probe = gateway.sdk(gateway.key()[1]).responses.input_tokens.count(
        model="gpt-5.1", input="Say hi."
    )
    needed = probe.input_tokens + 16  # the prompt plus the most it may generate
    _, secret = gateway.key(tpm=needed + 5)
    client = gateway.sdk(secret)
    admitted, refused = at_once([lambda: client.responses.with_raw_response.create(**ASK)] * 2)
    assert len(admitted) == 1 and len(refused) == 1
    assert admitted[0].headers["x-ratelimit-limit-tokens"] == str(needed + 5)
    assert admitted[0].headers["x-ratelimit-remaining-tokens"] == "5"
    headers = refused[0].response.headers
    assert refused[0].code == "rate_limit_exceeded"
    assert headers["x-ratelimit-limit-tokens"] == str(needed + 5)
    assert int(headers["x-ratelimit-remaining-tokens"]) < needed
    assert int(headers["retry-after"]) >= 1


def test_chat_completions_share_the_limit(gateway: Gateway) -> None:
    _, secret = gateway.key(rpm=1)
    client = gateway.sdk(secret)
    admitted, refused = at_once(
        [
            lambda: client.responses.create(**ASK),
            lambda: client.chat.completions.create(
                model="gpt-5.1",
                messages=[{"role": "user", "content": "Say hi."}],
                max_completion_tokens=16,
            ),
        ]
    )
    assert len(admitted) == 1 and len(refused) == 1
    assert refused[0].response.headers["x-ratelimit-remaining-requests"] == "0"
