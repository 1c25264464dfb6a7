"""Prompt caching on the embedded engine: real server, real SDK, real model and files.

llama.cpp reuses the previous request's prefix by itself, so every hit below comes
after an unrelated request: only a real cache can restore the prefix then.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
from openai import OpenAI

from tests.support.server import ADMIN_KEY, ServerProcess, make_client

CHUNK = 64  # the default evaluation chunk: hits are whole chunks
SUBJECTS = ["the river", "a lantern", "the archive", "an old bridge", "the harbour", "a violin"]
VERBS = ["remembers", "outlasts", "reflects", "guards", "measures", "forgets"]


def long_instructions(seed: int, rules: int) -> str:
    """Distinct, deterministic instructions: ~18 tokens a rule."""
    lines = ["You are a careful assistant. Follow every numbered rule below."]
    for n in range(rules):
        subject = SUBJECTS[(n * 7 + seed) % len(SUBJECTS)]
        verb = VERBS[(n * 5 + seed * 3) % len(VERBS)]
        lines.append(f"Rule {seed}.{n}: {subject} {verb} item {n * 13 + seed}.")
    return "\n".join(lines)


@cache
def tail_tokens(question: str) -> int:
    """Tokens after the shared prefix: the question and the chat template's closing marks."""
    from llama_cpp import Llama

    from thinkgate.backends.model_files import default_gguf_path

    vocab = Llama(model_path=str(default_gguf_path()), vocab_only=True, verbose=False)
    text = f"{question}<|im_end|>\n<|im_start|>assistant\n"
    return len(vocab.tokenize(text.encode(), add_bos=False, special=True))


def ask(client: OpenAI, instructions: str, question: str, **kwargs: Any) -> Any:
    return patient(client).responses.create(
        model="gpt-5.1",
        instructions=instructions,
        input=question,
        temperature=0,
        max_output_tokens=16,
        **kwargs,
    )


def patient(client: OpenAI) -> OpenAI:
    """Long prompts on a shared 2-core machine can take minutes to evaluate when missed."""
    return client.with_options(timeout=900)


def cached(response: Any) -> int:
    return int(response.usage.input_tokens_details.cached_tokens)


def stats(server: ServerProcess) -> dict[str, Any]:
    reply = httpx.get(
        f"{server.base_url}/v1/internal/cache",
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        timeout=120,
    )
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


@pytest.mark.timeout(1200)
def test_hit_after_unrelated_request_matches_the_uncached_run(client: OpenAI) -> None:
    instructions = long_instructions(1, 60)
    question = "Which rule mentions a violin?"
    first = ask(client, instructions, question, prompt_cache_key="team-a")
    assert cached(first) == 0  # the uncached run
    unrelated = ask(client, "Be brief.", "Say hello.", prompt_cache_key="team-a")
    assert cached(unrelated) == 0

    hit = ask(client, instructions, question, prompt_cache_key="team-a")
    prefix = hit.usage.input_tokens - tail_tokens(question)
    assert prefix >= 1000
    assert prefix * 0.95 <= cached(hit) < hit.usage.input_tokens
    assert cached(hit) % CHUNK == 0
    assert hit.usage.input_tokens == first.usage.input_tokens
    assert hit.output_text == first.output_text
    assert hit.output_text.strip()


@pytest.mark.timeout(900)
def test_cache_keys_and_no_key_never_share_state(client: OpenAI) -> None:
    instructions = long_instructions(2, 12)
    assert cached(ask(client, instructions, "First.", prompt_cache_key="alpha")) == 0
    assert cached(ask(client, instructions, "Second.", prompt_cache_key="beta")) == 0
    assert cached(ask(client, instructions, "Third.")) == 0
    again = ask(client, instructions, "Fourth.", prompt_cache_key="alpha")
    assert cached(again) >= CHUNK  # the key's own entry is still there


@pytest.mark.timeout(900)
def test_chat_reports_cached_prompt_tokens(client: OpenAI) -> None:
    messages: list[Any] = [
        {"role": "system", "content": long_instructions(3, 12)},
        {"role": "user", "content": "Quote rule 3.2."},
    ]

    def chat() -> Any:
        return patient(client).chat.completions.create(
            model="gpt-5.1", messages=messages, temperature=0, max_completion_tokens=8
        )

    first = chat()
    assert first.usage is not None and first.usage.prompt_tokens_details is not None
    assert first.usage.prompt_tokens_details.cached_tokens == 0
    ask(client, "Be brief.", "Count to three.")  # unrelated traffic in between
    second = chat()
    assert second.usage is not None and second.usage.prompt_tokens_details is not None
    restored = second.usage.prompt_tokens_details.cached_tokens
    assert restored is not None
    assert second.usage.prompt_tokens - CHUNK <= restored < second.usage.prompt_tokens
    assert second.choices[0].message.content == first.choices[0].message.content


@pytest.mark.timeout(600)
def test_a_repeated_short_prompt_is_served_from_the_cache(client: OpenAI) -> None:
    """Shorter than one chunk: no aligned prefix, so the whole prompt is kept (state and
    logits) and an equal prompt restores it, after unrelated traffic, streamed or not."""

    def short(question: str, **kwargs: Any) -> Any:
        return ask(client, "Be brief.", question, prompt_cache_key="short-repeat", **kwargs)

    first = short("Name three colours.")
    assert first.usage.input_tokens < CHUNK
    assert cached(first) == 0
    assert cached(short("Name three birds.")) == 0  # unrelated: the context moves on

    second = short("Name three colours.")
    assert cached(second) == second.usage.input_tokens == first.usage.input_tokens
    assert second.output_text == first.output_text and second.output_text.strip()

    with patient(client).responses.stream(
        model="gpt-5.1",
        instructions="Be brief.",
        input="Name three colours.",
        temperature=0,
        max_output_tokens=16,
        prompt_cache_key="short-repeat",
    ) as stream:
        streamed = stream.get_final_response()
    assert streamed.usage is not None and cached(streamed) == first.usage.input_tokens
    assert streamed.output_text == first.output_text


def test_stats_need_an_admin_key(server: ServerProcess) -> None:
    reply = httpx.get(f"{server.base_url}/v1/internal/cache", timeout=30)
    assert reply.status_code == 401
    assert set(reply.json()["error"]) >= {"message", "type", "code"}


# --- tiers across restarts, on a server of our own with a small RAM budget ---------------

RAM_BUDGET = 12 * 1024 * 1024


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("prompt-cache")
    (root / "thinkgate.toml").write_text(f"[prompt_cache]\nram_budget_bytes = {RAM_BUDGET}\n")
    yield root


def start(root: Path) -> ServerProcess:
    return ServerProcess(root / "data", config=root / "thinkgate.toml")


def wait_for_disk_writes(server: ServerProcess, entries: int) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        current = stats(server)
        if current["disk_pending"] == 0 and current["disk_entries"] >= entries:
            return current
        time.sleep(0.2)
    raise AssertionError(f"disk writes did not finish: {stats(server)}")


@pytest.mark.timeout(1800)
def test_24h_survives_a_restart_in_memory_does_not_and_bad_files_are_skipped(
    cache_dir: Path,
) -> None:
    kept, volatile, damaged, truncated = (long_instructions(10 + n, 9) for n in range(4))
    first = start(cache_dir)
    try:
        client = make_client(first.base_url)
        files: list[Path] = []
        for instructions in (kept, damaged, truncated):
            before = set((cache_dir / "data" / "prompt-cache").glob("*.kv"))
            ask(client, instructions, "Hello.", prompt_cache_retention="24h")
            wait_for_disk_writes(first, len(before) + 1)
            [new] = set((cache_dir / "data" / "prompt-cache").glob("*.kv")) - before
            files.append(new)
        ask(client, volatile, "Hello.", prompt_cache_retention="in_memory")
        assert cached(ask(client, volatile, "Again.")) > 0  # in RAM while the server runs
    finally:
        first.stop()

    _, damaged_file, truncated_file = files
    data = bytearray(damaged_file.read_bytes())
    data[-100] ^= 0xFF  # same size: only the checksum can tell
    damaged_file.write_bytes(bytes(data))
    truncated_file.write_bytes(truncated_file.read_bytes()[:-1000])

    second = start(cache_dir)
    try:
        client = make_client(second.base_url)
        assert stats(second)["disk_corrupt"] == 1  # the truncated file, at start-up
        assert not truncated_file.exists()
        restored = ask(client, kept, "Hello again.")
        assert cached(restored) >= CHUNK * 2
        assert cached(ask(client, volatile, "Hello again.")) == 0
        skipped = ask(client, damaged, "Hello again.")
        assert skipped.status == "completed" and cached(skipped) == 0
        after = stats(second)
        assert after["disk_corrupt"] == 2 and not damaged_file.exists()
        assert after["hits_disk"] == 1
    finally:
        second.stop()


@pytest.mark.timeout(1200)
def test_ram_tier_stays_within_its_budget(cache_dir: Path) -> None:
    server = start(cache_dir)
    try:
        client = make_client(server.base_url)
        for n in range(5):  # ~4 MB of state each, ~20 MB in all
            ask(client, long_instructions(100 + n, 10), "Hi.")
        current = stats(server)
        assert current["ram_budget_bytes"] == RAM_BUDGET
        assert current["stores"] >= 5
        assert current["evictions_ram_budget"] >= 1
        assert 0 < current["ram_bytes"] <= current["ram_bytes_peak"] <= RAM_BUDGET
    finally:
        server.stop()
