"""`thinkgate eval`: bundled exact-match suites run against any OpenAI-compatible endpoint
at several reasoning efforts, reported as accuracy, tokens, latency and cost per effort."""

from __future__ import annotations

from thinkgate.evals.runner import EffortResult, ItemResult, Price, run_suite
from thinkgate.evals.suites import SUITES, grade, load_suite, normalise

__all__ = [
    "SUITES",
    "EffortResult",
    "ItemResult",
    "Price",
    "grade",
    "load_suite",
    "normalise",
    "run_suite",
]
