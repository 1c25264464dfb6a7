"""Native thinking with budget forcing on the embedded engine.

SmolLM2 is not trained to think, but the mechanism does not need it to be: the test
config declares it a `<think>`-tag model (`thinking = "native"`). The reply is opened
with `<think>\\n`; the model writes until it closes the tag or reaches the budget, where
the server closes the block itself and the answer follows. `native` never closes the
tag (SmolLM2 does not write `</think>`): every thought is forced closed exactly at the
budget. `native-dot` declares "." its close tag, which SmolLM2 writes within a sentence:
the model closes the thought itself, under the budget.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from openai import OpenAI

from tests.support.checks import check_stream_grammar
from tests.support.server import ServerProcess, make_client
from thinkgate.reasoning.formats import NativeFormat

pytestmark = pytest.mark.timeout(900)

NATIVE = "smollm2-native"
DOT = "smollm2-native-dot"
BUDGETS = {"minimal": 4, "low": 8, "medium": 12, "high": 16, "xhigh": 24}
QUESTION = (
    "A shop has 23 apples. It sells 8 in the morning and twice as many in the afternoon. "
    "How many apples are left?"
)
ANSWER_ROOM = 12

CONFIG = f"""
[[local_models]]
name = "{NATIVE}"
thinking = "native"
adaptive_reasoning = false
reasoning_budgets = {{minimal = 4, low = 8, medium = 12, high = 16, xhigh = 24}}

[[local_models]]
name = "{DOT}"
thinking = "native"
think_close = "."
adaptive_reasoning = false
reasoning_budgets = {{high = 64}}
"""


@pytest.fixture(scope="module")
def nserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("native")
    config = root / "thinkgate.toml"
    config.write_text(CONFIG)
    process = ServerProcess(root / "data", config=config)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def nclient(nserver: ServerProcess) -> OpenAI:
    return make_client(nserver.base_url)


def _reasoning_text(response: Any) -> str:
    (item,) = [item for item in response.output if item.type == "reasoning"]
    return "".join(part.text for part in item.content or [])


def test_forced_close_is_written_by_the_server() -> None:
    native = NativeFormat()
    assert native.think_prefix("") == "<think>\n"
    assert native.answer_prefix("So 23 - 8") == "<think>\nSo 23 - 8\n</think>\n\n"
    assert native.answer_prefix("") == "<think>\n</think>\n\n"
    assert native.think_stop == ("</think>",)


def test_budget_forcing_closes_exactly_at_each_budget(nclient: OpenAI) -> None:
    spent = {}
    for effort in ("minimal", "low", "medium", "high", "xhigh"):
        response = nclient.responses.create(
            model=NATIVE,
            input=QUESTION,
            reasoning={"effort": effort},  # type: ignore[typeddict-item]
            max_output_tokens=BUDGETS[effort] + ANSWER_ROOM,
        )
        assert response.usage is not None
        reasoning = response.usage.output_tokens_details.reasoning_tokens
        assert reasoning == BUDGETS[effort], (effort, reasoning)  # forced, never more
        assert response.usage.output_tokens > reasoning  # the answer came after the close
        assert response.usage.output_tokens <= BUDGETS[effort] + ANSWER_ROOM
        assert [item.type for item in response.output] == ["reasoning", "message"]
        thought = _reasoning_text(response)
        assert thought.strip() and "<think>" not in thought and "</think>" not in thought
        assert response.output_text.strip()
        assert "<think>" not in response.output_text and thought not in response.output_text
        spent[effort] = reasoning
    assert list(spent.values()) == sorted(spent.values())


def test_model_closing_the_tag_ends_the_thought_under_the_budget(nclient: OpenAI) -> None:
    response = nclient.responses.create(
        model=DOT, input=QUESTION, reasoning={"effort": "high"}, max_output_tokens=64 + 16
    )
    assert response.usage is not None
    reasoning = response.usage.output_tokens_details.reasoning_tokens
    assert 0 < reasoning < 64
    thought = _reasoning_text(response)
    assert thought.strip() and "." not in thought  # cut at the model's own close
    assert response.usage.output_tokens > reasoning


def test_max_output_tokens_below_the_budget_counts_reasoning(nclient: OpenAI) -> None:
    response = nclient.responses.create(
        model=NATIVE, input=QUESTION, reasoning={"effort": "xhigh"}, max_output_tokens=16
    )
    assert response.usage is not None  # the 24-token budget is cut to 16: nothing is left
    assert response.usage.output_tokens == 16
    assert response.usage.output_tokens_details.reasoning_tokens == 16
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"


def test_native_stream_order(nclient: OpenAI) -> None:
    with nclient.responses.stream(
        model=NATIVE,
        input=QUESTION,
        reasoning={"effort": "low", "summary": "concise"},
        max_output_tokens=BUDGETS["low"] + ANSWER_ROOM,
    ) as stream:
        events = [event.model_dump(exclude_unset=True) for event in stream]
    for event in events:  # the helper's `parsed` field is not on the wire
        for item in (event.get("response") or {}).get("output", []):
            for part in item.get("content") or []:
                part.pop("parsed", None)
    check_stream_grammar(events)
    kinds = [event["type"] for event in events]
    first_text = kinds.index("response.output_text.delta")
    assert kinds.index("response.reasoning_text.delta") < first_text
    assert kinds.index("response.reasoning_summary_text.done") < first_text
    final = events[-1]["response"]  # completed, or incomplete when the answer ran out
    assert [item["type"] for item in final["output"]] == ["reasoning", "message"]
    assert final["usage"]["output_tokens_details"]["reasoning_tokens"] == BUDGETS["low"]


def test_chat_counts_native_reasoning_without_showing_it(nclient: OpenAI) -> None:
    completion = nclient.chat.completions.create(
        model=NATIVE,
        messages=[{"role": "user", "content": QUESTION}],
        reasoning_effort="low",
        max_completion_tokens=BUDGETS["low"] + ANSWER_ROOM,
    )
    assert completion.usage is not None
    details = completion.usage.completion_tokens_details
    assert details is not None and details.reasoning_tokens == BUDGETS["low"]
    content = completion.choices[0].message.content or ""
    assert content.strip() and "<think>" not in content
    assert not hasattr(completion.choices[0].message, "reasoning_content") or (
        getattr(completion.choices[0].message, "reasoning_content", None) is None
    )


def test_effort_none_opens_and_closes_an_empty_block(nclient: OpenAI) -> None:
    """A `<think>` model at effort none answers after an empty block: no thought shown."""
    response = nclient.responses.create(
        model=NATIVE, input=QUESTION, reasoning={"effort": "none"}, max_output_tokens=16
    )
    assert response.usage is not None
    assert response.usage.output_tokens_details.reasoning_tokens == 0
    assert [item.type for item in response.output] == ["message"]
    assert response.output_text.strip() and "<think>" not in response.output_text
