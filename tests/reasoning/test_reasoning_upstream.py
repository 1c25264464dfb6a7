"""Budget forcing on an upstream that reasons by itself (chat `reasoning_content`).

The stand-in (`tests/support/standin_upstream.py`) reasons for 200 chunks (`think`) or 5
(`think_short`), one token a chunk, then answers; asked to continue a final assistant
message it answers at once. The channel's budgets are small (low 8 … xhigh 48): at the
budget thinkgate cuts the upstream stream and asks for the answer after the closed thought.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from openai import OpenAI

from tests.support.checks import check_stream_grammar
from tests.support.config import channel, server_config
from tests.support.server import ServerProcess, make_client
from tests.support.upstreams import UpstreamProcess

BUDGETS = {"minimal": 4, "low": 8, "medium": 16, "high": 32, "xhigh": 48}
ANSWER = "Hello from the stand-in."


def _config(url: str) -> str:
    return server_config(
        channel(
            "thinker",
            url,
            {"deep": "think:deep", "brief": "think_short:brief", "gpt-5.1": "think:gpt"},
            reasoning_budgets={"minimal": 4, "low": 8, "medium": 16, "high": 32, "xhigh": 48},
        ),
    )


@pytest.fixture(scope="module")
def front(
    tmp_path_factory: pytest.TempPathFactory, standin: UpstreamProcess
) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("front")
    config = root / "thinkgate.toml"
    config.write_text(_config(standin.base_url))
    process = ServerProcess(root / "data", config=config)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def api(front: ServerProcess) -> OpenAI:
    return make_client(front.base_url)


def _stats(standin: UpstreamProcess) -> dict[str, Any]:
    stats: dict[str, Any] = httpx.get(f"{standin.base_url}/stats").json()
    return stats


def _thought(tokens: int) -> str:
    return "".join(f" step{step}" for step in range(tokens))


@pytest.mark.parametrize("effort", ["low", "medium", "high"])
def test_budget_cuts_the_upstream_thought_and_forces_the_answer(
    api: OpenAI, standin: UpstreamProcess, effort: str
) -> None:
    cut_before = _stats(standin)["closed_early"].get("think:deep", 0)
    response = api.responses.create(
        model="deep",
        input="What is 6 times 7?",
        reasoning={"effort": effort},  # type: ignore[typeddict-item]
        max_output_tokens=200,
    )
    budget = BUDGETS[effort]
    assert response.usage is not None
    assert response.usage.output_tokens_details.reasoning_tokens == budget
    assert response.usage.output_tokens == budget + 6  # the answer's six chunks
    assert response.output_text == ANSWER
    (item,) = [item for item in response.output if item.type == "reasoning"]
    assert item.content is not None and item.content[0].text == _thought(budget)

    stats = _stats(standin)
    assert stats["closed_early"]["think:deep"] == cut_before + 1  # the stream was cancelled
    first, answer = stats["recent_bodies"]
    assert first["reasoning_effort"] == effort and "continue_final_message" not in first
    assert answer["continue_final_message"] is True
    assert answer["add_generation_prompt"] is False
    assert "reasoning_effort" not in answer
    closed = "<think>\n" + _thought(budget).rstrip() + "\n</think>\n\n"
    assert answer["messages"][-1] == {"role": "assistant", "content": closed}
    assert answer["messages"][:-1] == first["messages"]


def test_thought_under_the_budget_passes_through(api: OpenAI, standin: UpstreamProcess) -> None:
    response = api.responses.create(
        model="brief",
        input="What is 6 times 7?",
        reasoning={"effort": "high"},
        max_output_tokens=200,
    )
    assert response.usage is not None
    assert response.usage.output_tokens_details.reasoning_tokens == 5
    assert response.output_text == ANSWER
    last = _stats(standin)["last_body"]
    assert last["model"] == "think_short:brief" and last["reasoning_effort"] == "high"
    assert "continue_final_message" not in last


def test_max_output_tokens_below_the_budget(api: OpenAI) -> None:
    response = api.responses.create(
        model="deep", input="Go.", reasoning={"effort": "xhigh"}, max_output_tokens=20
    )
    assert response.usage is not None
    assert response.usage.output_tokens == 20
    assert response.usage.output_tokens_details.reasoning_tokens == 20
    assert response.status == "incomplete"


def test_forced_answer_streams_in_order(api: OpenAI) -> None:
    with api.responses.stream(
        model="deep",
        input="What is 6 times 7?",
        reasoning={"effort": "low", "summary": "concise"},
        max_output_tokens=200,
    ) as stream:
        events = [event.model_dump(exclude_unset=True) for event in stream]
    for event in events:  # the helper's `parsed` field is not on the wire
        for item in (event.get("response") or {}).get("output", []):
            for part in item.get("content") or []:
                part.pop("parsed", None)
    check_stream_grammar(events)
    kinds = [event["type"] for event in events]
    deltas = [e["delta"] for e in events if e["type"] == "response.reasoning_text.delta"]
    assert "".join(deltas) == _thought(BUDGETS["low"])
    assert kinds.index("response.reasoning_summary_text.done") < kinds.index(
        "response.output_text.delta"
    )
    final = events[-1]["response"]
    assert events[-1]["type"] == "response.completed"
    assert final["usage"]["output_tokens_details"]["reasoning_tokens"] == BUDGETS["low"]


def test_chat_counts_the_forced_budget(api: OpenAI) -> None:
    completion = api.chat.completions.create(
        model="deep",
        messages=[{"role": "user", "content": "What is 6 times 7?"}],
        reasoning_effort="medium",
        max_completion_tokens=200,
    )
    assert completion.usage is not None and completion.usage.completion_tokens_details
    assert completion.usage.completion_tokens_details.reasoning_tokens == BUDGETS["medium"]
    assert completion.choices[0].message.content == ANSWER


def test_gpt_5_1_upstream_thought_is_summarised_not_shown(api: OpenAI) -> None:
    response = api.responses.create(
        model="gpt-5.1",
        input="What is 6 times 7?",
        reasoning={"effort": "low", "summary": "auto"},
        include=["reasoning.encrypted_content"],
        max_output_tokens=200,
    )
    (item,) = [item for item in response.output if item.type == "reasoning"]
    assert item.content is None
    assert item.summary and "step0" in item.summary[0].text
    assert item.encrypted_content
    assert response.output_text == ANSWER
    assert response.usage is not None
    assert response.usage.output_tokens_details.reasoning_tokens == BUDGETS["low"]
