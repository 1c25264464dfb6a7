"""How the embedded model ends an output before its cap: two sampling policies.

A tiny model does not always stop. Left to itself SmolLM2-135M rambles on after an answer,
or, writing a tool call's JSON, repeats a piece of it (an array item, a few letters of a
string) until the output cap, and a capped response is `incomplete`: an agent such as
Codex fails the turn. Both policies act on the logits before the grammar and the sampler
(a llama-cpp-python `logits_processor`), so what is written still follows the grammar.

1. **Soft length** (`soft_length_start`, `soft_length_rate` in `[[local_models]]`), only
   when the request sets no `max_output_tokens`: from the `start`-th output token on,
   right after a token that ends a sentence (`.`, `!`, `?`, a line break), the
   end-of-sequence token's logit is raised by `rate × (n − start + 1)` nats at output
   token n. A rambling answer then ends at a sentence end as `completed`, well before the
   hard cap (`default_max_output_tokens`). Like HF transformers'
   `exponential_decay_length_penalty`, but additive and at sentence ends; text that
   writes no sentence end (a run of names, a line that never breaks) gets the ramp
   at every token from `2 × start` on (`rate × (n − 2·start + 1)`), so it too ends
   before the cap. Structured output (a tool call, JSON) gets the ramp at every token
   from `start` on, on the tokens that close a JSON string, array or object and on the
   end tokens: a long call that does not repeat itself is wrapped up as the schema
   allows (Codex's `request_user_input` writing question after question). A request
   that sets its own cap gets exactly what it asked for.
2. **Loop guard** (`loop_guard`), in structured output only (a tool call's arguments, a
   JSON `text.format`): once the output repeats itself (a call identical to one it made
   before; one stretch of up to `MAX_PERIOD` tokens three times in a row over at least
   `MIN_SPAN` tokens, or nearly so four times, `NEAR_SHARE`; at most `MAX_DISTINCT`
   distinct tokens among the last `DISTINCT_WINDOW`), the output is wrapped up: from
   then the tokens that close what is open get `CLOSE_BIAS` and the end tokens
   `END_BIAS`: inside a JSON string the ones that start with `"` (a `}` or `]` there is
   only a character of the string: favoured, the model wrote `}}}}` to the cap), else the
   ones made of `]` and `}`. The grammar lets a closer through only where the schema
   allows it, so the JSON still parses and fits the schema, and it ends within a few
   tokens; the call is `completed` instead of repeating to the cap. (The grammar itself
   cannot bound this: a `maxItems`/`maxLength` bound costs a nested rule per item,
   grammar_bounds.py, and the schemas clients send have none.)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import llama_cpp
import numpy as np

from thinkgate.backends.tool_grammar import CALL_CLOSE, CALL_OPEN
from thinkgate.config import LocalModelConfig

MAX_PERIOD = 128  # the longest repeated stretch looked for, tokens
MIN_SPAN = 32  # a repetition counts once it covers this many tokens (and three periods)
REPEATS = 3
# Nearly the same stretch (an item whose number counts up): this share of tokens equal to
# the one a period before, over four periods and at least 48 tokens.
NEAR_REPEATS = 4
NEAR_SPAN = 48
NEAR_SHARE = 0.85
DISTINCT_WINDOW = 64
MAX_DISTINCT = 10  # distinct tokens in the window at most: a degenerate loop
CLOSE_BIAS = 50.0  # nats: a closer wins wherever the grammar allows one
END_BIAS = 60.0  # more than a closer: after a complete call, end rather than call again
SENTENCE_ENDS = (".", "!", "?", "\n")
JSON_CLOSERS = frozenset('"]}')
CALL_OPEN_BYTES = CALL_OPEN.strip().encode()
CALL_CLOSE_BYTES = CALL_CLOSE.strip().encode()

Logits = np.ndarray[Any, np.dtype[np.float32]]
Structure = Literal["json", "tools", "text"]


@dataclass(slots=True, frozen=True)
class SoftLength:
    start: int  # output tokens before the end token is favoured
    rate: float  # nats added per token past `start`, at sentence ends


@dataclass(slots=True, frozen=True)
class Vocabulary:
    """The token ids each policy acts on, read once per model."""

    ends: np.ndarray[Any, np.dtype[np.int64]]  # end-of-generation tokens
    # the closers (`"`, `]`, `}` and runs of them): those that close a string (start with
    # `"`), and those made of `]` and `}` alone (close an array or object)
    string_closers: np.ndarray[Any, np.dtype[np.int64]]
    bracket_closers: np.ndarray[Any, np.dtype[np.int64]]
    sentence_end: np.ndarray[Any, np.dtype[np.bool_]]  # per token: ends a sentence
    opens_structure: np.ndarray[Any, np.dtype[np.bool_]]  # per token: starts with < { [
    pieces: tuple[bytes, ...]  # per token: its text


def soft_length(config: LocalModelConfig, max_output_tokens: int | None) -> SoftLength | None:
    """The soft length for a request (None: the client set a cap, or it starts past the
    window: switched off)."""
    if max_output_tokens is not None or config.soft_length_start >= config.n_ctx:
        return None
    return SoftLength(config.soft_length_start, config.soft_length_rate)


@lru_cache(maxsize=4)
def vocabulary(llama: Any) -> Vocabulary:
    vocab = llama._model.vocab
    size = llama.n_vocab()
    ends, string_closers, bracket_closers = [], [], []
    sentence_end = np.zeros(size, dtype=np.bool_)
    opens = np.zeros(size, dtype=np.bool_)
    pieces = []
    for token in range(size):
        piece = llama.detokenize([token])
        pieces.append(piece)
        if llama_cpp.llama_vocab_is_eog(vocab, token):
            ends.append(token)
            continue
        if llama_cpp.llama_vocab_is_control(vocab, token):
            continue
        text = piece.decode("utf-8", errors="ignore")
        bare = text.strip()
        if bare and set(bare) <= JSON_CLOSERS:
            if bare.startswith('"'):
                string_closers.append(token)
            elif '"' not in bare:
                bracket_closers.append(token)
        sentence_end[token] = text.rstrip(" ").endswith(SENTENCE_ENDS)
        opens[token] = text.lstrip().startswith(("<", "{", "["))
    return Vocabulary(
        np.array(ends, dtype=np.int64),
        np.array(string_closers, dtype=np.int64),
        np.array(bracket_closers, dtype=np.int64),
        sentence_end,
        opens,
        tuple(pieces),
    )


def repeating(output: np.ndarray[Any, np.dtype[np.intc]]) -> bool:
    """Whether the output ends in a degenerate loop (module docstring, 2)."""
    tail = output[-DISTINCT_WINDOW:]
    if len(tail) == DISTINCT_WINDOW and len(np.unique(tail)) <= MAX_DISTINCT:
        return True
    window = output[-NEAR_REPEATS * MAX_PERIOD :]
    for period in range(1, MAX_PERIOD + 1):
        needed = max(REPEATS * period, MIN_SPAN)
        if len(window) < needed:
            break
        if (window[-needed + period :] == window[-needed:-period]).all():
            return True
        near = max(NEAR_REPEATS * period, NEAR_SPAN)
        if len(window) >= near:
            same = window[-near + period :] == window[-near:-period]
            if same.mean() >= NEAR_SHARE:
                return True
    return False


class OutputPolicy:
    """A llama-cpp-python logits processor for one generation: soft length and loop guard.

    `structure`: "json", the output is JSON from its first token (a JSON `text.format`);
    "tools", the guard starts when the output opens a call (its first token starts with
    `<`, or `{`/`[` for a JSON text branch); "text": no guard (free text may repeat on
    purpose: "say it three times")."""

    def __init__(
        self, vocab: Vocabulary, prompt_tokens: int, soft: SoftLength | None, structure: Structure
    ) -> None:
        self._vocab = vocab
        self._prompt = prompt_tokens
        self._soft = soft
        self._guard = structure != "text"
        self._json = structure == "json"
        self._structured: bool | None = None  # decided at the first output token
        self._text = bytearray()  # the output so far (the guard reads its calls)
        self._read = 0  # output tokens added to `_text`
        self._in_string = False  # the output so far ends inside a JSON string
        self._escaped = False  # ... right after its backslash
        self.wrapped_at: int | None = None  # the output token at which the guard fired

    def _read_output(self, output: np.ndarray[Any, np.dtype[np.intc]]) -> None:
        """Add the new tokens' text to `_text`, following whether a JSON string is open."""
        start = len(self._text)
        for token in output[self._read :]:
            self._text += self._vocab.pieces[token]
        self._read = len(output)
        in_string, escaped = self._in_string, self._escaped
        for byte in self._text[start:]:
            if escaped:
                escaped = False
            elif in_string and byte == 0x5C:  # a backslash
                escaped = True
            elif byte == 0x22:  # a double quote
                in_string = not in_string
        self._in_string, self._escaped = in_string, escaped

    def _repeats_a_call(self) -> bool:
        """The call just closed is one the output made before (the tiny model repeats a
        call it has written until the cap; an identical parallel call is never needed)."""
        text = self._text
        if not text.endswith(CALL_CLOSE_BYTES):
            return False
        *earlier, last = (call.strip() for call in bytes(text).split(CALL_OPEN_BYTES))
        return last in earlier

    def _closers(self) -> np.ndarray[Any, np.dtype[np.int64]]:
        """The tokens that close what is open: the string, else an array or object."""
        vocab = self._vocab
        return vocab.string_closers if self._in_string else vocab.bracket_closers

    def __call__(self, input_ids: np.ndarray[Any, np.dtype[np.intc]], logits: Logits) -> Logits:
        output = input_ids[self._prompt :]
        produced = len(output)
        vocab = self._vocab
        if self._structured is None and produced:
            self._structured = self._json or bool(vocab.opens_structure[output[0]])
        structured = self._guard and self._structured
        if structured:
            self._read_output(output)
        watching = structured and self.wrapped_at is None
        if watching and (self._repeats_a_call() or repeating(output)):
            self.wrapped_at = produced
        if self.wrapped_at is not None:
            logits[self._closers()] += CLOSE_BIAS
            logits[vocab.ends] += END_BIAS
            return logits
        soft = self._soft
        if soft is None or produced < soft.start:
            return logits
        ramp = soft.rate * (produced - soft.start + 1)
        if structured:  # a call or JSON: close it where it may end
            logits[self._closers()] += ramp
            logits[vocab.ends] += ramp
        elif vocab.sentence_end[output[-1]]:
            logits[vocab.ends] += ramp
        elif produced >= 2 * soft.start:  # no sentence end in sight: end at any token
            logits[vocab.ends] += soft.rate * (produced - 2 * soft.start + 1)
        return logits


def applies(config: LocalModelConfig, max_output_tokens: int | None, structure: Structure) -> bool:
    """Whether a generation gets a policy at all (cheap: no vocabulary read, no thread)."""
    guarded = config.loop_guard and structure != "text"
    return guarded or soft_length(config, max_output_tokens) is not None


def output_policy(
    llama: Any,
    config: LocalModelConfig,
    prompt_tokens: int,
    max_output_tokens: int | None,
    structure: Structure,
) -> OutputPolicy | None:
    """The policy for one generation, or None when neither part applies."""
    soft = soft_length(config, max_output_tokens)
    guarded = structure if config.loop_guard else "text"
    if soft is None and guarded == "text":
        return None
    return OutputPolicy(vocabulary(llama), prompt_tokens, soft, guarded)
