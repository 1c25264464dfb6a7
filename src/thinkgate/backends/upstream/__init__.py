"""Upstream providers speaking the OpenAI protocol (OpenAI, resellers, vLLM, SGLang, Ollama,
llama.cpp): channels, Chat/Responses translation, and failover between channels.

    UpstreamBackend (one public model) ─► Router ─► Channel (httpx pool, breaker, limit)
                                        └► dialect: chat_wire/chat_stream | responses_wire
"""

from __future__ import annotations

from thinkgate.backends.upstream.backend import UpstreamBackend, upstream_backends
from thinkgate.backends.upstream.channel import Channel

__all__ = ["Channel", "UpstreamBackend", "upstream_backends"]
