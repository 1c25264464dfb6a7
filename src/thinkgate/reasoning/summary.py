"""Reasoning summaries (`reasoning.summary`), taken from the thought itself.

A 135M model writes poor summaries of its own, so the summary is extractive: the
thought's first sentences (`concise` 1, `auto` 2, `detailed` 4), each part at most
~400 characters. An empty thought (the request was answered without thinking) says so.
"""

from __future__ import annotations

import re

_SENTENCES = {"concise": 1, "auto": 2, "detailed": 4}
_SPLIT = re.compile(r"(?<=[.!?])\s+|\n+")
_MAX_CHARS = 400


def summarize(thought: str, mode: str) -> tuple[str, ...]:
    sentences = [s.strip() for s in _SPLIT.split(thought) if s.strip()]
    if not sentences:
        return ("Answered directly: the request needed no extended reasoning.",)
    text = " ".join(sentences[: _SENTENCES.get(mode, 2)])
    if len(text) > _MAX_CHARS:
        text = text[: _MAX_CHARS - 1].rstrip() + "…"
    return (text,)
