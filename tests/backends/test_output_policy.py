"""How the embedded model ends before its cap (backends.output_policy, docs/clients.md).

Soft length: a request that sets no `max_output_tokens` ends at a sentence end once past
`soft_length_start` (here 24 tokens, steep), as `completed`; one that sets a cap gets it.
Loop guard: a tool call the tiny model repeats (greedy, SmolLM2 writes the same
`save_tags` call until the cap) ends after the first repeat, its JSON whole.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from openai import OpenAI

from tests.support.config import write_config
from tests.support.server import ServerProcess, make_client
from thinkgate.backends.output_policy import (
    CLOSE_BIAS,
    MIN_SPAN,
    OutputPolicy,
    SoftLength,
    Vocabulary,
    repeating,
)

MODEL = "smollm2-steered"
TAGS: Any = {
    "type": "function",
    "name": "save_tags",
    "description": "Save a list of tags.",
    "parameters": {
        "type": "object",
        "properties": {"tags": {"type": "array", "items": {"type": "string"}}},
        "required": ["tags"],
        "additionalProperties": False,
    },
}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenAI]:
    root = tmp_path_factory.mktemp("output-policy")
    model = {
        "name": MODEL,
        "n_ctx": 2048,
        "temperature": 0,
        "soft_length_start": 24,
        "soft_length_rate": 5.0,
    }
    config = write_config(root / "thinkgate.toml", local_models=[model])
    process = ServerProcess(root / "data", config=config)
    yield make_client(process.base_url).with_options(timeout=600)
    process.stop()


def test_without_a_cap_a_long_answer_ends_at_a_sentence_end(client: OpenAI) -> None:
    prompt = "Write a long story about a lighthouse keeper and the sea."
    free = client.responses.create(model=MODEL, input=prompt)
    assert free.status == "completed", free.incomplete_details
    assert free.usage is not None and 24 <= free.usage.output_tokens < 200
    assert free.output_text.rstrip().endswith((".", "!", "?", '."')), free.output_text
    capped = client.responses.create(model=MODEL, input=prompt, max_output_tokens=60)
    assert capped.status == "incomplete"  # the client's own cap: no soft length
    assert capped.usage is not None and capped.usage.output_tokens == 60


def test_a_repeated_call_ends_the_output(client: OpenAI) -> None:
    response = client.responses.create(
        model=MODEL,
        input="Tag this post: I love hiking in the mountains with my dog.",
        tools=[TAGS],
        tool_choice="required",
        max_output_tokens=300,  # unguarded, the same call runs to this cap (8 calls)
    )
    assert response.status == "completed", response.output
    calls = [item for item in response.output if item.type == "function_call"]
    assert 1 <= len(calls) <= 2, calls
    for call in calls:
        assert isinstance(json.loads(call.arguments)["tags"], list)


def _vocabulary() -> Vocabulary:
    """Token 0 ends, 1 is `"`, 2 is `]`, 3 is `.`, 4.. are letters."""
    pieces = (b"", b'"', b"]", b".", *(bytes([97 + i]) for i in range(20)))
    size = len(pieces)
    sentence_end = np.zeros(size, dtype=np.bool_)
    sentence_end[3] = True
    opens = np.zeros(size, dtype=np.bool_)
    return Vocabulary(
        ends=np.array([0]),
        string_closers=np.array([1]),
        bracket_closers=np.array([2]),
        sentence_end=sentence_end,
        opens_structure=opens,
        pieces=pieces,
    )


def test_a_looping_string_is_closed_and_a_varied_one_is_not() -> None:
    rng = np.random.default_rng(7)
    varied = rng.integers(4, 24, 400).astype(np.intc)
    assert not any(repeating(varied[:n]) for n in range(1, 400))
    item = rng.integers(4, 24, 17).astype(np.intc)
    loop = np.concatenate([varied[:40], *[item] * 4]).astype(np.intc)
    assert repeating(loop) and not repeating(loop[: 40 + MIN_SPAN])
    counting = [np.append(item[:-1], 4 + i) for i in range(5)]  # the last token counts up
    near = np.concatenate([varied[:40], *counting]).astype(np.intc)
    assert repeating(near) and not repeating(near[: 40 + 3 * len(item)])

    prompt = np.array([9, 9, 1], dtype=np.intc)  # the output opens a JSON string
    logits = np.zeros(24, dtype=np.float32)
    policy = OutputPolicy(_vocabulary(), 2, None, "json")
    assert not policy(np.concatenate([prompt, varied[:50]]), logits.copy()).any()
    policy = OutputPolicy(_vocabulary(), 2, None, "json")
    wrapped = policy(np.concatenate([prompt, loop]), logits.copy())
    assert policy.wrapped_at == len(loop) + 1
    # In a string only `"` closes it (`]` there is a character: the model wrote `]]]]`)
    assert wrapped[1] == CLOSE_BIAS and wrapped[2] == 0 and wrapped[0] > CLOSE_BIAS
    assert not wrapped[3:].any()
    closed = policy(np.concatenate([prompt, loop, [1]]).astype(np.intc), logits.copy())
    assert closed[2] == CLOSE_BIAS and closed[1] == 0  # the string closed: now the array


def test_soft_length_wraps_up_a_long_call_that_does_not_repeat() -> None:
    """Structured output past `start`: the closers of what is open and the end tokens gain
    the ramp at every token (a varied call is closed before the cap too)."""
    rng = np.random.default_rng(3)
    varied = rng.integers(4, 24, 30).astype(np.intc)
    policy = OutputPolicy(_vocabulary(), 0, SoftLength(start=10, rate=2.0), "json")
    out = policy(np.concatenate([[1], varied]).astype(np.intc), np.zeros(24, dtype=np.float32))
    assert policy.wrapped_at is None
    assert out[1] == out[0] == 2.0 * 22 and out[2] == 0  # in the string: `"` and the end


def test_soft_length_favours_the_end_only_at_sentence_ends() -> None:
    policy = OutputPolicy(_vocabulary(), 0, SoftLength(start=4, rate=2.0), "text")
    logits = np.zeros(24, dtype=np.float32)
    assert policy(np.array([5, 6, 3], dtype=np.intc), logits.copy())[0] == 0  # before start
    assert policy(np.array([5, 6, 7, 8, 9, 3], dtype=np.intc), logits.copy())[0] == 2.0 * 3
    assert policy(np.array([5, 6, 7, 8, 9, 3, 5], dtype=np.intc), logits.copy())[0] == 0
    # A text that writes no sentence end gets the ramp everywhere from 2 × start on.
    endless = policy(np.array([5] * 9, dtype=np.intc), logits.copy())
    assert endless[0] == 2.0 * (9 - 8 + 1) and not endless[1:].any()
    plain = OutputPolicy(_vocabulary(), 0, None, "text")  # free text: never the guard
    assert not plain(np.array([5] * 80, dtype=np.intc), logits.copy()).any()
