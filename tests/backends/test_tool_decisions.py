"""`tool_choice: "auto"` on the embedded model: the calibrated call-or-answer decision
(backends.tool_decision, docs/tool-decisions.md), through the real server and SDK."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from openai import OpenAI

from thinkgate.backends.tool_decision import argument_heads, split_grammar
from thinkgate.backends.tool_decision_rule import (
    CALIBRATED_MARGIN,
    GROUNDING_FLOOR,
    GROUNDING_WEIGHT,
    SMALL_TALK_RELEVANCE,
    DecisionRule,
    DecisionScores,
    Likelihoods,
)
from thinkgate.config import LocalModelConfig

MODEL = "gpt-5.1"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "tool-decisions.md"
# What the OpenAI Agents SDK sends for `@function_tool def add(a: int, b: int) -> int`.
ADD_SCHEMA = {
    "type": "object",
    "properties": {
        "a": {"title": "A", "type": "integer"},
        "b": {"title": "B", "type": "integer"},
    },
    "required": ["a", "b"],
    "title": "add_args",
    "additionalProperties": False,
}
ADD = {
    "type": "function",
    "name": "add",
    "description": "Add two numbers.",
    "parameters": ADD_SCHEMA,
    "strict": True,
}
# The Open Responses compliance scenario's tool.
WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"location": {"type": "string", "description": "The city and state"}},
    "required": ["location"],
    "additionalProperties": False,
}
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Get the current weather for a location",
    "parameters": WEATHER_SCHEMA,
}
CHAT_WEATHER: Any = {
    "type": "function",
    "function": {k: v for k, v in WEATHER.items() if k != "type"},
}


@pytest.fixture(scope="module")
def client(client: OpenAI) -> OpenAI:
    return client.with_options(timeout=900)


def create(client: OpenAI, **body: Any) -> Any:
    body.setdefault("model", MODEL)
    body.setdefault("temperature", 0)
    body.setdefault("max_output_tokens", 60)
    return client.responses.create(**body)


def only_call(response: Any, name: str, schema: dict[str, Any]) -> Any:
    """The response calls `name` only; its first call is complete with valid arguments.
    (The tiny model tends to repeat a call until the output cap: a repeat cut by the cap
    is `incomplete`, docs/tool-decisions.md "Known limits".)"""
    calls = [item for item in response.output if item.type == "function_call"]
    assert calls and all(call.name == name for call in calls), response.output
    assert calls[0].status == "completed"
    for call in calls:
        if call.status == "completed":
            Draft202012Validator(schema).validate(json.loads(call.arguments))
    return calls[0]


def test_agents_sdk_add_tool_is_called(client: OpenAI) -> None:
    response = create(client, input="use the add tool to add 2 and 3", tools=[ADD])
    call = only_call(response, "add", ADD_SCHEMA)
    assert json.loads(call.arguments) == {"a": 2, "b": 3}


WEATHER_MISS = pytest.mark.xfail(
    reason="answered: relevance -8.1, below the margin -6.288 and the small-talk gate; its "
    "grounding +4.6 is measured, but no rule fitted on the calibration half calls it "
    "(bench/tool_decision_candidates.py); docs/tool-decisions.md",
    strict=False,
)


@WEATHER_MISS
def test_weather_question_calls_get_weather(client: OpenAI) -> None:
    response = create(client, input="What's the weather like in San Francisco?", tools=[WEATHER])
    call = only_call(response, "get_weather", WEATHER_SCHEMA)
    assert call.call_id.startswith("call_")


@WEATHER_MISS
def test_weather_question_on_chat_completions(client: OpenAI) -> None:
    completion = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "What's the weather like in San Francisco?"}],
        tools=[CHAT_WEATHER],
        temperature=0,
        max_completion_tokens=60,
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    for call in choice.message.tool_calls or []:
        assert call.function.name == "get_weather"  # type: ignore[union-attr]
        Draft202012Validator(WEATHER_SCHEMA).validate(json.loads(call.function.arguments))  # type: ignore[union-attr]


def test_haiku_with_weather_offered_is_a_message(client: OpenAI) -> None:
    response = create(client, input="Write a haiku about autumn", tools=[WEATHER])
    assert [item.type for item in response.output] == ["message"]
    assert response.output_text.strip()


def test_after_the_tool_output_the_model_answers(client: OpenAI) -> None:
    """The agent loop ends: with the call's output in, a message (no second call)."""
    first = create(client, input="use the add tool to add 2 and 3", tools=[ADD])
    only_call(first, "add", ADD_SCHEMA)
    outputs: Any = [
        {"type": "function_call_output", "call_id": item.call_id, "output": "5"}
        for item in first.output
        if item.type == "function_call"  # every call needs its output (repeats included)
    ]
    second = create(client, previous_response_id=first.id, input=outputs, tools=[ADD])
    assert [item.type for item in second.output] == ["message"]


def test_small_talk_is_answered(client: OpenAI) -> None:
    """Thanks after a tool list raises the call as a request does (relevance above the
    small-talk gate) but holds nothing to call with: a message, not a made-up call."""
    response = create(client, input="Thanks, that was helpful!", tools=[WEATHER, ADD])
    assert [item.type for item in response.output] == ["message"]


def _scores(grounding: float) -> DecisionScores:
    """relevance 4.5 (get_weather: −20.5 − (−25.0)) and the grounding asked for."""
    real = Likelihoods(-20.0, -0.1, {"add": -21.0, "get_weather": -20.5}, opening=-15.0)
    neutral = Likelihoods(-24.0, -0.2, {"add": -24.0, "get_weather": -25.0}, opening=-16.0)
    return DecisionScores(real, neutral, (-0.5, -0.25), (-0.75 - grounding,), "Paris")


def test_measures_on_fixed_scores() -> None:
    """relevance: max over tools of L(tool | prompt) − L(tool | neutral prompt); grounding:
    the first argument's log-likelihood after the request minus after the neutral prompt.
    The answer likelihood does not enter them (docs/tool-decisions.md)."""
    scores = _scores(5.0)
    assert scores.relevance == 4.5 and scores.tool == "get_weather"
    assert scores.grounding == 5.0  # (-0.75) − (−5.75): the request predicts "Paris"
    assert scores.score(0.0) == 4.5 and scores.score(0.5) == 7.0
    assert scores.score() == 4.5 + GROUNDING_WEIGHT * 5.0
    real = scores.real
    lowered = DecisionScores(real=real, neutral=real)  # the message changes nothing
    assert lowered.relevance == 0.0 and lowered.grounding == 0.0


def test_decision_rule_gates_small_talk() -> None:
    """Above the gate a call needs grounding; below it, relevance + weight × grounding
    against the margin. A value exactly at a threshold reaches it."""
    rule = DecisionRule(margin=4.0, weight=0.0, small_talk_relevance=4.5, grounding_floor=1.0)
    assert rule.calls(_scores(1.0)) is True  # at the gate, grounded at the floor: call
    assert rule.calls(_scores(0.2)) is False  # raises the call, grounds nothing: small talk
    below = DecisionRule(margin=4.5, weight=0.0, small_talk_relevance=5.0, grounding_floor=1.0)
    assert below.calls(_scores(0.0)) is True  # under the gate: the margin alone decides
    assert DecisionRule(margin=4.6, small_talk_relevance=5.0).calls(_scores(0.0)) is False
    linear = DecisionRule(margin=7.0, weight=0.5, small_talk_relevance=float("inf"))
    assert linear.calls(_scores(5.0)) is True and linear.calls(_scores(4.9)) is False
    assert linear.reads_argument and rule.reads_argument
    assert not DecisionRule(weight=0.0, small_talk_relevance=float("inf")).reads_argument


def test_decision_rule_takes_the_models_overrides() -> None:
    default = DecisionRule.of(LocalModelConfig(name="m"))
    assert default == DecisionRule(
        CALIBRATED_MARGIN, GROUNDING_WEIGHT, SMALL_TALK_RELEVANCE, GROUNDING_FLOOR
    )
    config = LocalModelConfig(name="m", tool_call_margin=-3.0, tool_small_talk_relevance=2.0)
    assert DecisionRule.of(config) == DecisionRule(-3.0, GROUNDING_WEIGHT, 2.0, GROUNDING_FLOOR)


def test_argument_heads_open_the_first_argument() -> None:
    """What the argument read appends to a call opening: the grammar's own form, up to the
    first required property's value (a string's opening quote included)."""
    heads = argument_heads((WEATHER, ADD, {"type": "custom", "name": "patch"}))
    assert heads == {
        "get_weather": ', "arguments": {"location": "',
        "add": ', "arguments": {"a": ',
    }
    optional_first = {
        "type": "function",
        "name": "f",
        "parameters": {"properties": {"x": {"type": "string"}, "y": {}}, "required": ["y"]},
    }
    empty = {"type": "function", "name": "g", "parameters": {"type": "object", "properties": {}}}
    assert argument_heads((optional_first, empty)) == {"f": ', "arguments": {"y": '}


def test_docs_name_the_calibrated_numbers() -> None:
    text = DOCS.read_text()
    documented = re.search(r"CALIBRATED_MARGIN = (-?[0-9.]+)", text)
    assert documented is not None and float(documented.group(1)) == CALIBRATED_MARGIN
    for name, value in (
        ("GROUNDING_WEIGHT", GROUNDING_WEIGHT),
        ("SMALL_TALK_RELEVANCE", SMALL_TALK_RELEVANCE),
        ("GROUNDING_FLOOR", GROUNDING_FLOOR),
    ):
        documented = re.search(rf"{name} = (-?[0-9.]+)", text)
        assert documented is not None and float(documented.group(1)) == value, name


def test_stored_scores_refit_to_the_shipped_rule() -> None:
    """The defaults are what the fit gives on the stored calibration scores, and every
    candidate rule is fitted on that half alone (bench/tool_decision_candidates.py)."""
    from bench.tool_decision_candidates import SCENARIO, SCORES
    from bench.tool_decision_fit import fit_rule

    saved = json.loads(SCORES.read_text())
    rows = [
        ((d["relevance"], d["grounding"]), d["expected"] is not None, d)
        for d in saved["calibration_cases"]
    ]
    assert fit_rule(rows) == (DecisionRule(), 95)
    prompts = {d["prompt"] for d in saved["calibration_cases"] + saved["test_scores"]}
    assert SCENARIO not in prompts  # the weather scenario is fitted on nowhere


def test_split_grammar_keeps_each_branch() -> None:
    grammar = 'free-text ::= [^<]*\nroot ::= tool-calls | free-text\ntool-calls ::= "<x>"'
    calls, text = split_grammar(grammar)
    assert "root ::= tool-calls\n" in calls and "root ::= free-text\n" in text
    assert calls.count("::=") == text.count("::=") == 3


def test_benchmark_calibrates_on_every_kind_of_prompt() -> None:
    """The margin is chosen on half of each tool's and each category's prompts, the other
    half held out: a kind seen only in the held-out half (as chat was) is not calibrated."""
    from bench.tool_decision_prompts import NONE_TEMPLATES, cases

    every = cases()
    for part in ("calibration", "test"):
        chosen = [case for case in every if case.part == part]
        assert len(chosen) == 100
        assert {c.expected for c in chosen} == {c.expected for c in every}  # each tool
        prompts = {c.prompt for c in chosen}
        for category, templates in NONE_TEMPLATES.items():
            assert prompts & set(templates), f"no {category} prompt in the {part} half"
