"""Call or answer, measured: `tool_choice: "auto"` on the embedded model.

Left to itself under the `auto` grammar (`root ::= tool-calls | free-text`), SmolLM2-135M
almost never opens a call: its first token is sampled as for any chat turn, and the
likelihood of "<tool_call>" is low whatever the user asked. What does move with the
request is how much the user's message raises that likelihood. So before anything is
generated, on the evaluated prompt, for each offered tool t:

    L(t | prompt)  = log P("<tool_call>\n{\"name\": \"t\"" | prompt)
    relevance      = max_t  L(t | prompt) - L(t | same prompt, last user message "Hello.")

Relevance alone cannot tell a request from chit-chat: "Thanks, that was helpful!" raises
the call as much as "Is it raining in Oslo?". What does is whether the request holds what
the call needs. So the likeliest tool's call is opened on both prompts up to its first
argument's value, the model writes that value (greedy, a few tokens) after the request,
and the same tokens are scored after the neutral prompt:

    grounding      = log P(value | prompt, opening) - log P(value | neutral, opening)

high when the value comes from the user's words ("Oslo", "43"), near 0 when made up.

The rule (`DecisionRule`): a message that raises the call strongly (relevance at least
`SMALL_TALK_RELEVANCE`) calls only if it also grounds the argument (at least
`GROUNDING_FLOOR`): raising the call and giving nothing to fill it with is small talk.
Below that, `relevance + weight * grounding >= margin` calls. A call keeps only the call
branch of the grammar (the model still picks the tool and writes the arguments); else only
the text branch (a message). The thresholds come from calibration (a two-level decision
tree fitted on held-apart prompts, bench/tool_decisions.py, docs/tool-decisions.md), or
`tool_call_margin`, `tool_grounding_weight`, `tool_small_talk_relevance`,
`tool_grounding_floor` in the model's config.
`tool_decision = "model"` keeps the old behaviour (the auto grammar, the model's first
token). Decided so when the turn ends with a user message and the reply is not prefilled;
right after a tool output the reply is a message (left to itself the model repeats the
call it sees in the history, so agent loops would not end); elsewhere (the reasoning
scaffold's passes) the model's own choice stands.

Cost: the neutral prompt shares everything before the user's text, so it adds that short
tail plus ~10-30 one-token evaluations, and the argument read two short batches and up to
2 × GROUNDING_STEPS more. Runs on the generation thread inside the model's
turn, right after the prompt evaluation, and leaves the context as it found it (`measure`).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import llama_cpp
import numpy as np

from thinkgate.backends.llama_prompt import PromptEvaluation
from thinkgate.backends.tool_decision_rule import DecisionRule, DecisionScores, Likelihoods
from thinkgate.backends.tool_grammar import CALL_OPEN, ToolPlan
from thinkgate.config import LocalModelConfig
from thinkgate.core.request import CanonicalRequest, Item
from thinkgate.protocol.tools import call_name

log = logging.getLogger(__name__)

GROUNDING_STEPS = 8  # argument tokens read (greedy, under the real prompt)
NEUTRAL = "Hello."
OPENING = CALL_OPEN + '{"name": "'  # a call's opening, up to the tool's name
SEQ = 0


def wants_decision(request: CanonicalRequest, plan: ToolPlan | None) -> bool:
    """Decided here: `auto` (text allowed) on a turn that ends with a user message, the
    reply not prefilled (the reasoning scaffold's passes keep the model's own choice)."""
    if plan is None or not plan.allow_text or request.context.assistant_prefix:
        return False
    items = request.all_items
    last = items[-1] if items else {}
    return last.get("type", "message") == "message" and last.get("role") == "user"


def after_tool_output(request: CanonicalRequest, plan: ToolPlan) -> bool:
    """`auto` right after a tool's output: answered (the tiny model would repeat the call)."""
    items = request.all_items
    kind = items[-1].get("type", "message") if items else "message"
    return plan.allow_text and not request.context.assistant_prefix and kind.endswith("call_output")


def neutral_items(items: list[Item]) -> list[Item]:
    """The items with the last (user) message's text replaced by `NEUTRAL`."""
    return [*items[:-1], {**items[-1], "content": NEUTRAL}]


def call_opening(name: str) -> str:
    """What the model writes to open a call to `name` (the grammar's own form)."""
    return CALL_OPEN + '{"name": ' + json.dumps(name)


def argument_heads(tools: tuple[dict[str, Any], ...]) -> dict[str, str]:
    """Per function tool with JSON arguments: what follows its call opening up to the first
    argument's value (the first required property, as the grammar orders them):
    `, "arguments": {"location": "`. Other tools (custom, apply_patch, shell) have none."""
    heads: dict[str, str] = {}
    for tool in tools:
        if tool.get("type") != "function":
            continue
        parameters = tool.get("parameters") or {}
        properties = parameters.get("properties") or {}
        if not isinstance(properties, dict) or not properties:
            continue
        required = parameters.get("required") or []
        key = next((k for k in properties if k in required), next(iter(properties)))
        kind = properties[key].get("type") if isinstance(properties[key], dict) else None
        quote = '"' if kind == "string" else ""
        heads[call_name(tool)] = ', "arguments": {' + json.dumps(key) + ": " + quote
    return heads


def measure(
    llama: Any,
    prompt: PromptEvaluation,
    neutral: list[int],
    names: list[str],
    heads: dict[str, str] | None = None,
) -> DecisionScores:
    """Both likelihoods, from a context holding `prompt.tokens` evaluated (fresh logits);
    leaves it so again: the tokens after the prefix shared with `neutral` are evaluated
    once more in the same aligned chunks (`PromptEvaluation`), so the KV the prompt cache
    keeps is bit-identical to an undecided request's."""
    tokens = prompt.tokens
    real = score_tools(llama, len(tokens), names)
    tool = max(real.tools, key=lambda name: real.tools[name])
    head = (heads or {}).get(tool)
    opened: list[int] = []
    argument: list[int] = []
    on_real: list[float] = []
    if head is not None:
        opened = llama.tokenize((call_opening(tool) + head).encode(), add_bos=False, special=False)
        _rewind(llama, len(tokens))
        llama.eval(opened)
        argument, on_real = _greedy_value(llama, GROUNDING_STEPS)
    shared = len(_common_prefix([tokens[:-1], neutral[:-1]]))
    _rewind(llama, shared)
    llama.eval(neutral[shared:])
    base = score_tools(llama, len(neutral), names)
    on_neutral: list[float] = []
    if argument:
        _rewind(llama, len(neutral))
        llama.eval(opened)
        on_neutral = [float(_log_softmax(llama)[argument[0]]), *_extend(llama, argument)]
    start = shared - shared % prompt.chunk
    _rewind(llama, start)
    while start < len(tokens):
        stop = min(len(tokens), (start // prompt.chunk + 1) * prompt.chunk)
        llama.eval(tokens[start:stop])
        start = stop
    text = llama.detokenize(argument).decode("utf-8", errors="replace") if argument else ""
    return DecisionScores(real, base, tuple(on_real), tuple(on_neutral), text)


def score_tools(llama: Any, end: int, names: list[str]) -> Likelihoods:
    """The likelihoods after the `end` tokens the context holds, their last logits fresh.
    Evaluates call openings past `end` (the caller rewinds)."""
    first = _log_softmax(llama)
    answer = _answer_logprob(llama, first)
    openings = {
        name: llama.tokenize(call_opening(name).encode(), add_bos=False, special=False)
        for name in names
    }
    shared = _common_prefix(list(openings.values()))
    steps = [float(first[shared[0]]), *_extend(llama, shared)] if shared else []
    prefix = sum(steps)
    head = llama.tokenize(OPENING.encode(), add_bos=False, special=False)
    opening = sum(steps[: len(_common_prefix([shared, head]))])
    per_tool: dict[str, float] = {}
    branch = end + max(len(shared) - 1, 0)  # the shared tokens' last one is not evaluated yet
    for name, ids in openings.items():
        _rewind(llama, branch)
        rest = ids[len(shared) :]
        if not rest:
            per_tool[name] = prefix
            continue
        context = [shared[-1]] if shared else []
        per_tool[name] = prefix + _score_suffix(llama, context, rest, first)
    return Likelihoods(
        call=_logsumexp(list(per_tool.values())),
        answer=answer,
        tools=per_tool,
        opening=opening,
        greedy_call=int(np.argmax(first)) in set(_opening_tokens(llama).tolist()),
        top=float(first.max()),
        entropy=float(-(np.exp(first) * first).sum()),
    )


def tool_decider(
    config: LocalModelConfig,
    request: CanonicalRequest,
    plan: ToolPlan | None,
    tokenize: Callable[[list[Item]], list[int]],
) -> Callable[[Any, PromptEvaluation], Any] | None:
    """The grammar picker the runner calls after the prompt evaluation (None: the plan's
    own grammar stands): the call-only or the text-only branch of `plan.grammar`."""
    if config.tool_decision != "calibrated" or plan is None:
        return None
    calls, text = split_grammar(plan.grammar) if plan.allow_text else ("", "")
    if after_tool_output(request, plan):
        return lambda llama, prompt: _grammar(text)  # the loop ends with a message
    if not wants_decision(request, plan):
        return None
    rule = DecisionRule.of(config)
    names = list(plan.kinds)
    heads = argument_heads(plan.tools) if rule.reads_argument else {}

    def choose(llama: Any, prompt: PromptEvaluation) -> Any:
        neutral = tokenize(neutral_items(request.all_items))
        scores = measure(llama, prompt, neutral, names, heads)
        call = rule.calls(scores)
        log.debug(
            "tool decision: %s (relevance %.2f, grounding %.2f; likeliest %s, argument %r)",
            call,
            scores.relevance,
            scores.grounding,
            scores.tool,
            scores.argument,
        )
        return _grammar(calls if call else text)

    return choose


def split_grammar(grammar: str) -> tuple[str, str]:
    """The `auto` grammar's two branches as grammars of their own."""
    lines = grammar.split("\n")
    root = next(i for i, line in enumerate(lines) if line.startswith("root ::= "))
    calls, _, text = lines[root].removeprefix("root ::= ").partition(" | ")
    variants = []
    for branch in (calls, text):
        variant = list(lines)
        variant[root] = f"root ::= {branch}"
        variants.append("\n".join(variant))
    return variants[0], variants[1]


# --- on the llama context ---------------------------------------------------------


def _log_softmax(llama: Any) -> np.ndarray[Any, np.dtype[np.float64]]:
    pointer = llama_cpp.llama_get_logits_ith(llama._ctx.ctx, -1)
    logits = np.ctypeslib.as_array(pointer, shape=(llama.n_vocab(),)).astype(np.float64)
    peak = float(logits.max())
    result: np.ndarray[Any, np.dtype[np.float64]] = logits - (
        peak + math.log(float(np.exp(logits - peak).sum()))
    )
    return result


def _answer_logprob(llama: Any, first: np.ndarray[Any, np.dtype[np.float64]]) -> float:
    """log P(the first token is one the text branch allows: not starting with "<")."""
    opening = _opening_tokens(llama)
    probs = np.exp(first)
    closed = float(probs[opening].sum()) if opening.size else 0.0
    return math.log(max(1.0 - closed, 1e-12))


@lru_cache(maxsize=4)
def _opening_tokens(llama: Any) -> np.ndarray[Any, np.dtype[np.int64]]:
    """The vocabulary's tokens whose text starts with "<" (special tokens excluded)."""
    ids = [
        token
        for token in range(llama.n_vocab())
        if llama._model.token_get_text(token).startswith("<")
        and not llama_cpp.llama_vocab_is_control(llama._model.vocab, token)
    ]
    return np.array(ids, dtype=np.int64)


def _greedy_value(llama: Any, steps: int) -> tuple[list[int], list[float]]:
    """Up to `steps` likeliest tokens from the fresh logits on, each one's log-likelihood;
    stops after a token that closes the value (`"`, `,`, `}`) once one token is written."""
    ids: list[int] = []
    logps: list[float] = []
    for step in range(steps):
        first = _log_softmax(llama)
        token = int(np.argmax(first))
        ids.append(token)
        logps.append(float(first[token]))
        piece = llama.detokenize([token]).decode("utf-8", errors="ignore")
        if (step > 0 and any(mark in piece for mark in '}",')) or step == steps - 1:
            break
        llama.eval([token])
    return ids, logps


def _extend(llama: Any, ids: list[int]) -> list[float]:
    """Evaluate `ids[:-1]` after what the context holds; each log P(ids[k+1] | … ids[k])."""
    steps = []
    for index in range(len(ids) - 1):
        llama.eval([ids[index]])
        steps.append(float(_log_softmax(llama)[ids[index + 1]]))
    return steps


def _score_suffix(
    llama: Any,
    context: list[int],
    rest: list[int],
    first: np.ndarray[Any, np.dtype[np.float64]],
) -> float:
    """log P(rest | prompt + shared tokens), the context rewound to the branch point."""
    if not context:  # nothing shared: the first token's probability is the prompt's own
        return float(first[rest[0]]) + sum(_extend(llama, rest))
    return sum(_extend(llama, context + rest))


def _rewind(llama: Any, position: int) -> None:
    llama._ctx.kv_cache_seq_rm(SEQ, position, -1)
    llama.n_tokens = position


def _common_prefix(sequences: list[list[int]]) -> list[int]:
    shared: list[int] = []
    for column in zip(*sequences, strict=False):
        if any(token != column[0] for token in column):
            break
        shared.append(column[0])
    return shared


def _logsumexp(values: list[float]) -> float:
    peak = max(values)
    return peak + math.log(sum(math.exp(v - peak) for v in values))


@lru_cache(maxsize=32)
def _grammar(gbnf: str) -> Any:
    from llama_cpp.llama_grammar import LlamaGrammar

    return LlamaGrammar.from_string(gbnf, verbose=False)
