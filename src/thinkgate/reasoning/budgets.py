"""Effort → thinking-token cap, per model.

Defaults are a fixed share of the model's context window, so a bigger model gets room to
think in proportion (8,192 tokens: minimal 64, low 128, medium 256, high 512, xhigh 1,024).
For the embedded model that is the window it was trained on (`Capabilities.reasoning_window`):
stretching RoPE past it makes room for long prompts, not for longer thoughts.
A model's TOML entry may set its own caps (`reasoning_budgets = {high = 300}`).
"""

from __future__ import annotations

from collections.abc import Mapping

EFFORT_LADDER = ("none", "minimal", "low", "medium", "high", "xhigh")

_CONTEXT_SHARE = {
    "none": 0.0,
    "minimal": 1 / 128,
    "low": 1 / 64,
    "medium": 1 / 32,
    "high": 1 / 16,
    "xhigh": 1 / 8,
}


def default_budgets(context_window: int) -> dict[str, int]:
    return {effort: int(context_window * share) for effort, share in _CONTEXT_SHARE.items()}


def budget_for(effort: str, context_window: int, overrides: Mapping[str, int] | None = None) -> int:
    """The most thinking tokens `effort` may spend on this model (0 for `none`)."""
    if effort == "none":
        return 0
    if overrides and effort in overrides:
        return overrides[effort]
    return default_budgets(context_window).get(effort, 0)
