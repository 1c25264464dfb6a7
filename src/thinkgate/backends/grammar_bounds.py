"""Bounds on the grammars the embedded engine enforces, checked before llama.cpp sees them.

Why: llama.cpp (as vendored by llama-cpp-python 0.3.36) trusts its grammar, and a request
body decides the grammar: a strict `text.format` / `response_format` schema, a function
tool's `parameters`, a custom tool's regex. Measured on the SmolLM2 build (exit codes of a
process that samples under the grammar):

- a grammar llama.cpp refuses becomes a null sampler, and the first token segfaults (-11).
  It refuses a repetition that expands past 2000 rules (`{"maxLength": 1001}` is the
  first string length: the converter writes it as 1001 nested optional groups), an
  unknown escape (`\\d`, `\\w` in a `pattern`, passed through by the converter), left
  recursion, an undefined rule;
- groups nested 20,000 deep (10,000 still parse) overflow its recursive parser (-11);
- a terminal no token can produce (NUL, above U+10FFFF; `{"const": "a\\u0000"}` becomes
  one) leaves nothing to sample, and it aborts (-6);
- a repetition of something that may be empty (`(a?b?){0,60}`, `.?` 64 times) makes the
  check of every token branch at each character: seconds to minutes per token, while
  every other request waits for the engine.

So every grammar the local backend builds passes two checks, and a failure is a 400 that
names the parameter it came from:

1. `check_grammar`, on the text (`grammar_shape.measure`), per source (the schema, each
   tool): the bounds below, with a wide margin under each measured failure;
2. `engine_rejects`, llama.cpp's own parser and checks exactly as the sampler runs them
   (it reports a refusal as a null pointer; nothing crashes), on the combined grammar,
   off the event loop. It catches what the text check does not model; it is safe to run
   in the process because the text check has bounded its recursion first.

Only the embedded engine builds grammars: an upstream channel receives the schema as
OpenAI would, and these bounds never apply to it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from thinkgate.backends.grammar_shape import GrammarShape, GrammarSyntaxError, measure
from thinkgate.errors import InvalidRequestError

MAX_GRAMMAR_CHARS = 256 * 1024  # text of one grammar (~0.4 s to measure at the limit)
MAX_GRAMMAR_RULES = 5_000  # named rules (llama.cpp's left-recursion check is quadratic)
MAX_GRAMMAR_SYMBOLS = 100_000  # rules llama.cpp builds, groups and repeated copies included
MAX_REPETITION = 500  # maxLength, maxItems, a regex {m,n}: llama.cpp fails at ~1000
MAX_NESTING = MAX_REPETITION + 12  # groups in one rule: a repetition and what encloses it
MAX_AMBIGUITY = 12  # optional one-character positions side by side (module docstring)


@dataclass(slots=True, frozen=True)
class GrammarSource:
    """Where a grammar came from: the 400's `param`, `code`, and opening words."""

    param: str
    code: str  # invalid_json_schema, invalid_function_parameters, invalid_value
    subject: str  # "Invalid schema for response_format"


def check_grammar(gbnf: str, source: GrammarSource) -> None:
    """Raise a 400 naming `source` when the grammar is beyond a bound."""
    problem = grammar_problem(gbnf)
    if problem is not None:
        raise refusal(source, problem)


def grammar_problem(gbnf: str) -> str | None:
    """Why the grammar is refused, in the words of the 400; None when within bounds."""
    if len(gbnf) > MAX_GRAMMAR_CHARS:
        return (
            f"it is too large for the embedded engine ({len(gbnf)} characters of grammar, "
            f"at most {MAX_GRAMMAR_CHARS})"
        )
    shape = _shape(gbnf)
    if isinstance(shape, str):
        return f"the embedded engine cannot enforce it ({shape})"
    return _beyond_bounds(shape)


def syntax_problem(gbnf: str) -> str | None:
    """Only the syntax part of `grammar_problem` (a custom tool falls back to free text)."""
    shape = _shape(gbnf) if len(gbnf) <= MAX_GRAMMAR_CHARS else None
    return shape if isinstance(shape, str) else None


def engine_rejects(vocab: Any, gbnf: str) -> bool:
    """llama.cpp's verdict on a grammar that passed `check_grammar` (whose bounds keep this
    call's recursion shallow). Costs one parse; run it off the event loop."""
    import llama_cpp

    sampler = llama_cpp.llama_sampler_init_grammar(vocab, gbnf.encode("utf-8"), b"root")
    if not sampler:
        return True
    llama_cpp.llama_sampler_free(sampler)
    return False


def first_rejected(vocab: Any, parts: Iterable[tuple[GrammarSource, str]]) -> GrammarSource | None:
    """The first part llama.cpp refuses on its own, to name it in the 400."""
    for source, gbnf in parts:
        if engine_rejects(vocab, gbnf):
            return source
    return None


def refusal(source: GrammarSource, problem: str) -> InvalidRequestError:
    return InvalidRequestError(
        f"{source.subject}: {problem}.", param=source.param, code=source.code
    )


def _beyond_bounds(shape: GrammarShape) -> str | None:
    if shape.unmatchable is not None:
        return (
            "the embedded engine cannot enforce it: it requires a character no model token "
            f"can produce ({shape.unmatchable}: NUL or a code point above U+10FFFF)"
        )
    if shape.tokens:
        return "the embedded engine does not take token references (<...>) in a grammar"
    if shape.repetition > MAX_REPETITION or shape.nesting > MAX_NESTING:
        count = max(shape.repetition, shape.nesting)
        return (
            f"it expands to {count} nested optional repetitions; the embedded engine allows "
            f"at most {MAX_REPETITION} (maxLength - minLength, maxItems - minItems and a regex "
            "quantifier's {m,n} n - m each count)"
        )
    if shape.ambiguity > MAX_AMBIGUITY:
        return (
            f"it has {shape.ambiguity} optional characters in a row (a repeated group whose "
            f"parts are all optional, like (a?b?){{0,8}}, counts each copy); the embedded "
            f"engine allows at most {MAX_AMBIGUITY}"
        )
    if shape.rules > MAX_GRAMMAR_RULES or shape.symbols > MAX_GRAMMAR_SYMBOLS:
        return (
            f"it is too large for the embedded engine ({shape.rules} rules and "
            f"{shape.symbols} expanded rules; at most {MAX_GRAMMAR_RULES} and "
            f"{MAX_GRAMMAR_SYMBOLS})"
        )
    return None


@lru_cache(maxsize=64)
def _shape(gbnf: str) -> GrammarShape | str:
    """Measured once per distinct grammar (a client resends the same tools every turn)."""
    try:
        return measure(gbnf)
    except GrammarSyntaxError as exc:
        return str(exc)
