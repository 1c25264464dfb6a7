"""Call or answer, measured: `tool_choice: "auto"` on the embedded model.

Left to itself under the `auto` grammar (`root ::= tool-calls | free-text`), SmolLM2-135M
almost never opens a call: its first token is sampled as for any chat turn, and the
likelihood of "<tool_call>" is low whatever the user asked. What does move with the
request is how much the user's message raises that likelihood. So before anything is
generated, on the evaluated prompt, for each offered tool t:

    L(t | prompt)  = log P("<tool_call>\n{\"name\": \"t\"" | prompt)
    relevance      = max_t  L(t | prompt) - L(t | same prompt, last user message "Hello.")

`relevance >= margin` → only the call branch of the grammar is kept (a call is generated;
the model still picks the tool and writes the arguments); else only the text branch (a
message). The margin comes from calibration (bench/tool_decisions.py,
docs/tool-decisions.md): `CALIBRATED_MARGIN`, or `tool_call_margin` in the model's config.
`tool_decision = "model"` keeps the old behaviour (the auto grammar, the model's first
token). Decided so when the turn ends with a user message and the reply is not prefilled;
right after a tool output the reply is a message (left to itself the model repeats the
call it sees in the history, so agent loops would not end); elsewhere (the reasoning
scaffold's passes) the model's own choice stands.

Cost: the neutral prompt shares everything before the user's text, so it adds that short
tail plus ~10-30 one-token evaluations. Runs on the generation thread inside the model's
turn, right after the prompt evaluation, and leaves the context as it found it (`measure`).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import llama_cpp
import numpy as np

from thinkgate.backends.llama_prompt import PromptEvaluation
from thinkgate.backends.tool_grammar import CALL_OPEN, ToolPlan
from thinkgate.config import LocalModelConfig
from thinkgate.core.request import CanonicalRequest, Item

log = logging.getLogger(__name__)

# Chosen by `python -m bench.tool_decisions --write` on the calibration prompts
# (SmolLM2-135M-Instruct Q4_1); the line below is rewritten by that command.
CALIBRATED_MARGIN = -6.288
NEUTRAL = "Hello."
OPENING = CALL_OPEN + '{"name": "'  # a call's opening, up to the tool's name
SEQ = 0


@dataclass(slots=True, frozen=True)
class Likelihoods:
    """The model's log-likelihoods (natural log) at the start of its reply."""

    call: float  # opening a call to any offered tool
    answer: float  # writing a message instead
    tools: dict[str, float]  # each tool's call opening, its name included
    opening: float  # the opening alone, up to the name: `<tool_call>\n{"name": "`
    greedy_call: bool = False  # the likeliest first token opens a call (the model's choice)
    top: float = 0.0  # the likeliest first token's log-likelihood (recorded by the bench)
    entropy: float = 0.0  # the first token's entropy, nats (recorded by the bench)


@dataclass(slots=True, frozen=True)
class DecisionScores:
    """What one decision reads: the request as sent, and the same request with its last
    user message replaced by `NEUTRAL` (what the tools and the system text alone suggest)."""

    real: Likelihoods
    neutral: Likelihoods

    @property
    def tool(self) -> str:
        return max(self.real.tools, key=lambda name: self.real.tools[name])

    @property
    def relevance(self) -> float:
        """How much the user's message raises the likeliest call over the neutral one."""
        return max(self.real.tools[n] - self.neutral.tools[n] for n in self.real.tools)

    @property
    def score(self) -> float:
        return self.relevance


def decide(scores: DecisionScores, margin: float) -> bool:
    """True: call. A score exactly at the margin calls."""
    return scores.score >= margin


def wants_decision(request: CanonicalRequest, plan: ToolPlan | None) -> bool:
    """Decided here: `auto` (text allowed) on a turn that ends with a user message, the
    reply not prefilled (the reasoning scaffold's passes keep the model's own choice)."""
    if plan is None or not plan.allow_text or request.assistant_prefix:
        return False
    items = request.all_items
    last = items[-1] if items else {}
    return last.get("type", "message") == "message" and last.get("role") == "user"


def after_tool_output(request: CanonicalRequest, plan: ToolPlan) -> bool:
    """`auto` right after a tool's output: answered (the tiny model would repeat the call)."""
    items = request.all_items
    kind = items[-1].get("type", "message") if items else "message"
    return plan.allow_text and not request.assistant_prefix and kind.endswith("call_output")


def neutral_items(items: list[Item]) -> list[Item]:
    """The items with the last (user) message's text replaced by `NEUTRAL`."""
    return [*items[:-1], {**items[-1], "content": NEUTRAL}]


def call_opening(name: str) -> str:
    """What the model writes to open a call to `name` (the grammar's own form)."""
    return CALL_OPEN + '{"name": ' + json.dumps(name)


def measure(
    llama: Any, prompt: PromptEvaluation, neutral: list[int], names: list[str]
) -> DecisionScores:
    """Both likelihoods, from a context holding `prompt.tokens` evaluated (fresh logits);
    leaves it so again: the tokens after the prefix shared with `neutral` are evaluated
    once more in the same aligned chunks (`PromptEvaluation`), so the KV the prompt cache
    keeps is bit-identical to an undecided request's."""
    tokens = prompt.tokens
    real = score_tools(llama, len(tokens), names)
    shared = len(_common_prefix([tokens[:-1], neutral[:-1]]))
    _rewind(llama, shared)
    llama.eval(neutral[shared:])
    base = score_tools(llama, len(neutral), names)
    start = shared - shared % prompt.chunk
    _rewind(llama, start)
    while start < len(tokens):
        stop = min(len(tokens), (start // prompt.chunk + 1) * prompt.chunk)
        llama.eval(tokens[start:stop])
        start = stop
    return DecisionScores(real=real, neutral=base)


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
    margin = CALIBRATED_MARGIN if config.tool_call_margin is None else config.tool_call_margin
    names = list(plan.kinds)

    def choose(llama: Any, prompt: PromptEvaluation) -> Any:
        neutral = tokenize(neutral_items(request.all_items))
        scores = measure(llama, prompt, neutral, names)
        call = decide(scores, margin)
        log.debug("tool decision: %s (score %.2f, margin %.2f)", call, scores.score, margin)
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
