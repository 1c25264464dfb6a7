"""Reasoning effort, adaptive depth, summaries, sealed reasoning and their stream events.

One server for the module, with two extra models over the same GGUF: `tiny` thinks with
small fixed budgets (low 4 < medium 8 < high 12 < xhigh 16, adaptivity off) so budget
tests are fast and exact; `gpt-5.1` and the default model think adaptively.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from openai import BadRequestError, OpenAI

from tests.support.checks import check_stream_grammar
from tests.support.server import ADMIN_KEY, ServerProcess, make_client
from thinkgate.reasoning import budget_for, default_budgets

# Several generations per test: generous on a CPU shared with other work.
pytestmark = pytest.mark.timeout(900)

TINY = "smollm2-tiny-budgets"
TINY_BUDGETS = {"minimal": 2, "low": 4, "medium": 8, "high": 12, "xhigh": 16}
LOCAL = "smollm2-135m-instruct"
HARD = (
    "A shop has 23 apples. It sells 8 in the morning and twice as many in the afternoon. "
    "How many apples are left?"
)
EASY = "What is the capital of France?"

CONFIG = f"""
[[local_models]]
name = "{TINY}"
adaptive_reasoning = false
reasoning_budgets = {{minimal = 2, low = 4, medium = 8, high = 12, xhigh = 16}}
"""


@pytest.fixture(scope="module")
def rserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("reasoning")
    config = root / "thinkgate.toml"
    config.write_text(CONFIG)
    process = ServerProcess(root / "data", config=config)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def rclient(rserver: ServerProcess) -> OpenAI:
    return make_client(rserver.base_url)


@pytest.fixture(scope="module")
def rhttp(rserver: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=rserver.base_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=120
    ) as session:
        yield session


def _wire(event: dict[str, Any]) -> dict[str, Any]:
    """The SDK stream helper adds `parsed` to text parts of the final response: not wire."""
    for item in (event.get("response") or {}).get("output", []):
        for part in item.get("content") or []:
            part.pop("parsed", None)
    return event


def _reasoning_items(response: Any) -> list[Any]:
    return [item for item in response.output if item.type == "reasoning"]


# --- budgets -----------------------------------------------------------------------------


def test_default_budgets_scale_with_context_and_are_ordered() -> None:
    small, big = default_budgets(8192), default_budgets(32768)
    ladder = ["minimal", "low", "medium", "high", "xhigh"]
    assert [small[e] for e in ladder] == sorted(small[e] for e in ladder)
    assert len({small[e] for e in ladder}) == len(ladder)
    assert all(big[e] == 4 * small[e] for e in ladder)
    assert budget_for("none", 8192) == 0
    assert budget_for("high", 8192, {"high": 300}) == 300


def test_none_spends_no_reasoning_and_has_no_reasoning_item(rclient: OpenAI) -> None:
    response = rclient.responses.create(model="gpt-5.1", input=EASY, max_output_tokens=16)
    assert response.reasoning is not None and response.reasoning.effort == "none"
    assert response.usage is not None
    assert response.usage.output_tokens_details.reasoning_tokens == 0
    assert _reasoning_items(response) == []


def test_budgets_are_ordered_and_never_exceeded(rclient: OpenAI) -> None:
    spent = {}
    for effort in ("low", "medium", "high", "xhigh"):
        response = rclient.responses.create(
            model=TINY,
            input=HARD,
            reasoning={"effort": effort},
            max_output_tokens=TINY_BUDGETS[effort] + 16,
        )
        assert response.usage is not None
        reasoning = response.usage.output_tokens_details.reasoning_tokens
        assert 0 < reasoning <= TINY_BUDGETS[effort], (effort, reasoning)
        assert response.usage.output_tokens >= reasoning
        assert response.usage.output_tokens <= TINY_BUDGETS[effort] + 16
        assert _reasoning_items(response)[0] is response.output[0]
        spent[effort] = reasoning
    assert spent["low"] < spent["medium"] < spent["high"] < spent["xhigh"], spent


def test_max_output_tokens_counts_reasoning(rclient: OpenAI) -> None:
    response = rclient.responses.create(
        model=TINY, input=HARD, reasoning={"effort": "xhigh"}, max_output_tokens=16
    )
    assert response.usage is not None
    assert response.usage.output_tokens == 16
    assert response.usage.output_tokens_details.reasoning_tokens == 16
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"


def test_adaptive_spends_less_on_easy_than_hard(rclient: OpenAI) -> None:
    """Both capped at 40 tokens: the easy thought ends by itself, the hard one runs to the
    cap. SmolLM2's calibrated policy never skips the thought (docs/reasoning.md: its
    probe 0 is no surer when right than when wrong), so easy costs probe 0 + a short one."""
    used = {}
    for name, prompt in (("easy", EASY), ("hard", HARD)):
        response = rclient.responses.create(
            model="gpt-5.1", input=prompt, reasoning={"effort": "high"}, max_output_tokens=40
        )
        assert response.usage is not None
        used[name] = response.usage.output_tokens_details.reasoning_tokens
    assert 0 < used["easy"] < 40, used
    assert used["hard"] == 40 and used["hard"] > used["easy"], used


# --- summaries and sealed reasoning ------------------------------------------------------


@pytest.mark.parametrize("mode", ["auto", "concise", "detailed"])
def test_summary_present_when_asked(rclient: OpenAI, mode: str) -> None:
    response = rclient.responses.create(
        model=TINY,
        input=HARD,
        reasoning={"effort": "medium", "summary": mode},  # type: ignore[typeddict-item]
        max_output_tokens=16,
    )
    (item,) = _reasoning_items(response)
    assert item.id.startswith("rs_")
    assert len(item.summary) == 1 and item.summary[0].type == "summary_text"
    assert item.summary[0].text.strip()
    assert item.content and item.summary[0].text.split()[0] in item.content[0].text
    assert item.encrypted_content is None  # not asked for


def test_no_summary_unless_asked(rclient: OpenAI) -> None:
    response = rclient.responses.create(
        model=TINY, input=HARD, reasoning={"effort": "minimal"}, max_output_tokens=16
    )
    (item,) = _reasoning_items(response)
    assert item.summary == []


def _sealed_turn(client: OpenAI) -> Any:
    response = client.responses.create(
        model=TINY,
        input=HARD,
        reasoning={"effort": "low"},
        include=["reasoning.encrypted_content"],
        store=False,
        max_output_tokens=16,
    )
    (item,) = _reasoning_items(response)
    assert item.encrypted_content and item.content
    return item


def test_encrypted_reasoning_round_trips_statelessly(rclient: OpenAI) -> None:
    item = _sealed_turn(rclient)
    thought = item.content[0].text
    assert thought and thought not in item.encrypted_content
    sent_back = item.model_dump(exclude_none=True)
    sent_back.pop("content")  # only the sealed copy travels: the server must open it
    follow_up = {"role": "user", "content": "So how many are left?"}
    with_thought = rclient.responses.input_tokens.count(
        model=TINY, input=[sent_back, follow_up], reasoning={"effort": "low"}
    )
    without = rclient.responses.input_tokens.count(
        model=TINY, input=[follow_up], reasoning={"effort": "low"}
    )
    assert with_thought.input_tokens >= without.input_tokens + len(thought.split()) // 2
    second = rclient.responses.create(
        model=TINY,
        input=[sent_back, follow_up],
        reasoning={"effort": "low"},
        store=False,
        max_output_tokens=16,
    )
    assert second.status in ("completed", "incomplete")
    assert second.usage is not None and second.usage.input_tokens > without.input_tokens


def test_tampered_or_foreign_encrypted_content_is_rejected(rclient: OpenAI) -> None:
    item = _sealed_turn(rclient)
    blob: str = item.encrypted_content
    flipped = blob[:40] + ("A" if blob[40] != "A" else "B") + blob[41:]
    foreign = Fernet(Fernet.generate_key()).encrypt(b'{"v": 1, "text": "x"}').decode()
    for bad in (flipped, foreign, "not-a-token"):
        sent = {"type": "reasoning", "id": item.id, "summary": [], "encrypted_content": bad}
        with pytest.raises(BadRequestError) as caught:
            rclient.responses.create(
                model=TINY, input=[sent, {"role": "user", "content": "Go on."}], store=False
            )
        error = caught.value.body
        assert isinstance(error, dict)
        assert error["param"] == "input[0].encrypted_content"
        assert error["code"] == "invalid_encrypted_content"
        assert caught.value.status_code == 400


# --- streaming ---------------------------------------------------------------------------


def test_stream_order_with_summary_and_encrypted_content(rclient: OpenAI) -> None:
    with rclient.responses.stream(
        model=TINY,
        input=HARD,
        reasoning={"effort": "low", "summary": "auto"},
        include=["reasoning.encrypted_content"],
        max_output_tokens=16,
    ) as stream:
        events = [_wire(event.model_dump(exclude_unset=True)) for event in stream]
    final = events[-1]["response"]  # completed, or incomplete when the 16 tokens ran out
    check_stream_grammar(events)
    kinds = [event["type"] for event in events]
    reasoning_part = [
        "response.output_item.added",
        "response.content_part.added",
        "response.reasoning_text.delta",
    ]
    assert kinds[2:5] == reasoning_part
    text_done = kinds.index("response.reasoning_text.done")
    assert kinds[text_done : text_done + 7] == [
        "response.reasoning_text.done",
        "response.content_part.done",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.output_item.done",
    ]
    assert events[2]["item"]["type"] == "reasoning" and events[2]["output_index"] == 0
    message_added = events[text_done + 7]
    assert message_added["type"] == "response.output_item.added"
    assert message_added["item"]["type"] == "message" and message_added["output_index"] == 1
    assert events[-1]["type"] in ("response.completed", "response.incomplete")
    assert [item["type"] for item in final["output"]] == ["reasoning", "message"]
    assert final["output"][0]["encrypted_content"]
    assert 0 < final["usage"]["output_tokens_details"]["reasoning_tokens"] <= TINY_BUDGETS["low"]


def _thought_from_sealed(rserver: ServerProcess, blob: str) -> str:
    """The test reads the server's key: only to check what the client cannot see."""
    key = (Path(rserver.data_dir) / "reasoning.key").read_bytes().strip()
    return str(json.loads(Fernet(key).decrypt(blob.encode()))["text"])


def test_gpt_5_1_never_returns_raw_reasoning(rclient: OpenAI, rserver: ServerProcess) -> None:
    """GPT-5.1 shows a summary and a sealed copy, never the thought itself (reference §3.3)."""
    with rclient.responses.stream(
        model="gpt-5.1",
        input=HARD,
        reasoning={"effort": "low", "summary": "auto"},
        include=["reasoning.encrypted_content"],
        max_output_tokens=40,
    ) as stream:
        events = [_wire(event.model_dump(exclude_unset=True)) for event in stream]
    check_stream_grammar(events)
    kinds = [event["type"] for event in events]
    assert not [kind for kind in kinds if kind.startswith("response.reasoning_text.")]
    final = events[-1]["response"]
    assert [item["type"] for item in final["output"]] == ["reasoning", "message"]
    reasoning, message = final["output"]
    assert "content" not in reasoning and reasoning["summary"] and reasoning["encrypted_content"]
    assert kinds[2] == "response.output_item.added" and kinds[3].startswith(
        "response.reasoning_summary_part"
    )
    thought = _thought_from_sealed(rserver, reasoning["encrypted_content"])
    assert final["usage"]["output_tokens_details"]["reasoning_tokens"] > 0 and thought.strip()
    answer = "".join(part["text"] for part in message["content"])
    assert thought.strip() not in answer
    for event in events:  # nowhere on the wire but inside the sealed copy
        if event["type"] != "response.output_item.done":
            assert thought.strip() not in json.dumps(event.get("delta", "")), event


# --- chat and parameter rules ------------------------------------------------------------


def test_chat_counts_reasoning_but_does_not_show_it(rclient: OpenAI) -> None:
    completion = rclient.chat.completions.create(
        model=TINY,
        messages=[{"role": "user", "content": HARD}],
        reasoning_effort="low",
        max_completion_tokens=16,
    )
    assert completion.usage is not None
    details = completion.usage.completion_tokens_details
    assert details is not None and details.reasoning_tokens is not None
    assert 0 < details.reasoning_tokens <= TINY_BUDGETS["low"]
    assert completion.usage.completion_tokens >= details.reasoning_tokens
    content = completion.choices[0].message.content or ""
    assert "Reasoning:" not in content
    chunks = list(
        rclient.chat.completions.create(
            model=TINY,
            messages=[{"role": "user", "content": HARD}],
            reasoning_effort="low",
            max_completion_tokens=16,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    usage = chunks[-1].usage
    assert usage is not None and usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == details.reasoning_tokens


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"reasoning": {"effort": "low"}, "temperature": 0.2}, "temperature"),
        ({"reasoning": {"effort": "high"}, "top_p": 0.5}, "top_p"),
        (
            {"reasoning": {"effort": "medium"}, "include": ["message.output_text.logprobs"]},
            "include",
        ),
        ({"reasoning": {"effort": "minimal"}}, "reasoning.effort"),
        ({"reasoning": {"effort": "xhigh"}}, "reasoning.effort"),
    ],
)
def test_gpt_5_1_parameter_rules(rhttp: httpx.Client, body: dict[str, Any], param: str) -> None:
    reply = rhttp.post("/v1/responses", json={"model": "gpt-5.1", "input": "Hi", **body})
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"]["param"] == param


def test_local_models_take_the_whole_ladder(rclient: OpenAI) -> None:
    response = rclient.responses.create(
        model=TINY, input=EASY, reasoning={"effort": "minimal"}, max_output_tokens=16
    )
    assert response.reasoning is not None and response.reasoning.effort == "minimal"
    assert response.usage is not None
    assert 0 < response.usage.output_tokens_details.reasoning_tokens <= TINY_BUDGETS["minimal"]


def test_key_file_is_kept_in_the_data_dir(rserver: ServerProcess) -> None:
    key = Path(rserver.data_dir) / "reasoning.key"
    assert key.is_file() and oct(key.stat().st_mode & 0o777) == "0o600"


# --- eval suites ---------------------------------------------------------------------------


def test_bundled_suites_and_exact_match_grading() -> None:
    from thinkgate.evals import grade, load_suite

    easy, hard = load_suite("easy"), load_suite("hard")
    assert len(easy) >= 50 and len(hard) >= 50
    assert len({item.id for item in easy + hard}) == len(easy) + len(hard)
    assert grade("Paris is the capital of France.", "paris")
    assert grade("Answer: 12.", "12") and grade("1,250", "1250")
    assert not grade("23 x 2 = 46", "46") and not grade("", "7")
    assert not grade("2 + 8 -", "2")  # the question echoed is not the answer
