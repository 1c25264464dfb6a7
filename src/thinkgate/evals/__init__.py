"""`thinkgate eval`: seeded exact-match suites (calibration and held-out test parts) run
against any OpenAI-compatible endpoint at several efforts, and the adaptive policy's
thresholds chosen on the calibration part (`--calibrate`)."""

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
