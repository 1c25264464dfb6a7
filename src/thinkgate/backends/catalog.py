"""A model's `/v1/models` entry: OpenAI's four fields, then what clients read to size and
configure themselves.

OpenAI's own model objects carry `id`, `object`, `created`, `owned_by` only; the openai
SDK's `Model` keeps anything more as extra fields. Codex reads a provider's `/models` as
`{"models": [ModelInfo]}` (codex-rs `protocol/src/openai_models.rs`): `slug`,
`context_window`, `auto_compact_token_limit`, `supported_reasoning_levels`,
`apply_patch_tool_type`, `input_modalities`, `truncation_policy`... One entry carries both
vocabularies, so the same object serves `data` (OpenAI) and `models` (Codex).
"""

from __future__ import annotations

from typing import Any

from thinkgate.backends.registry import ModelInfo
from thinkgate.core.backend import Capabilities

# What `/v1/responses` accepts as `tools[].type` (docs/clients.md); web_search is accepted
# but not served until a search provider is configured.
TOOL_TYPES = ("function", "custom", "apply_patch", "shell", "namespace", "tool_search")
AUTO_COMPACT_SHARE = 0.9  # Codex's own default share of the window (ModelInfo)
TOOL_OUTPUT_TOKENS = 10_000  # Codex's tool-output truncation for its GPT-5 models

_EFFORT_WORDS = {
    "none": "No reasoning: the fastest answer",
    "minimal": "Very little reasoning",
    "low": "Light reasoning",
    "medium": "Balanced reasoning",
    "high": "Deep reasoning",
    "xhigh": "The deepest reasoning",
}


def catalog_entry(info: ModelInfo, capabilities: Capabilities, priority: int) -> dict[str, Any]:
    """`priority`: its place in the list (Codex sorts its picker by it)."""
    window = capabilities.context_window
    modalities = ["text", "image"] if capabilities.image_input else ["text"]
    return {
        "id": info.id,
        "object": "model",
        "created": info.created,
        "owned_by": info.owned_by,
        "reasoning_efforts": list(info.reasoning_efforts),
        "default_reasoning_effort": info.default_effort,
        "context_window": window,
        "max_output_tokens": capabilities.max_output_tokens,
        "default_max_output_tokens": capabilities.default_max_output_tokens,
        "input_modalities": modalities,
        "supported_tools": list(TOOL_TYPES),
        # Codex's ModelInfo (the fields it requires, then the ones it sizes itself by)
        "slug": info.id,
        "display_name": info.id,
        "description": _description(info),
        "default_reasoning_level": info.default_effort,
        "supported_reasoning_levels": [
            {"effort": effort, "description": _EFFORT_WORDS.get(effort, effort)}
            for effort in info.reasoning_efforts
        ],
        "shell_type": "shell_command",
        "visibility": "list",
        "supported_in_api": True,
        "priority": priority,
        "upgrade": None,
        "availability_nux": None,
        "supports_reasoning_summaries": False,
        "support_verbosity": True,
        "default_verbosity": "medium",
        "apply_patch_tool_type": "freeform",
        "truncation_policy": {"mode": "tokens", "limit": min(TOOL_OUTPUT_TOKENS, window // 8)},
        "supports_parallel_tool_calls": capabilities.parallel_tool_calls,
        "auto_compact_token_limit": int(window * AUTO_COMPACT_SHARE),
        "effective_context_window_percent": 95,
        "experimental_supported_tools": [],
    }


def _description(info: ModelInfo) -> str:
    if info.backend.startswith("upstream:"):
        return f"{info.id}, served by thinkgate through its upstream channels"
    return f"{info.id}, served by thinkgate's embedded llama.cpp engine ({info.backend})"
