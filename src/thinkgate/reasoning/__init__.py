"""Reasoning planner: effort (+ an adaptive difficulty signal) → thinking budget, and the
think-then-answer layer that spends it over any backend; sealed reasoning for stateless turns."""

from __future__ import annotations

from thinkgate.reasoning.budgets import EFFORT_LADDER, budget_for, default_budgets
from thinkgate.reasoning.planner import ModelReasoning, ReasoningPlanner, planner_for
from thinkgate.reasoning.policy import AdaptivePolicy, FixedPolicy, ThinkingPolicy
from thinkgate.reasoning.sealing import Sealer

__all__ = [
    "EFFORT_LADDER",
    "AdaptivePolicy",
    "FixedPolicy",
    "ModelReasoning",
    "ReasoningPlanner",
    "Sealer",
    "ThinkingPolicy",
    "budget_for",
    "default_budgets",
    "planner_for",
]
