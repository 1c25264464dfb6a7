"""Declared tools → the tools the model may call now.

declared (echoed)                         callable (what backends offer)
function / custom / apply_patch / shell → itself
namespace {tools: [f, c]}               → f, c, each with `namespace` (call name
                                          `namespaced_name`: `crm__lookup`)
anything with defer_loading: true       → nothing, until a `tool_search_output` in the
                                          conversation loads it (its `tools`)
tool_search (client)                    → itself: a call becomes `tool_search_call`
web_search …                            → nothing: no search provider (the response
                                          names it in `x-thinkgate-unavailable-tools`)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from thinkgate.protocol.tool_models import WEB_SEARCH
from thinkgate.protocol.tools import call_name

Tool = dict[str, Any]
Item = dict[str, Any]


def callable_tools(declared: list[Tool], items: Iterable[Item]) -> list[Tool]:
    """The flat list backends see: declared tools not deferred, then tools loaded by the
    conversation's `tool_search_output` items (each call name once, first wins)."""
    flat = list(_flatten(declared, loaded=False))
    for item in items:
        if item.get("type") == "tool_search_output":
            flat.extend(_flatten(item.get("tools") or [], loaded=True))
    seen: set[str] = set()
    unique = []
    for tool in flat:
        name = call_name(tool)
        if name not in seen:
            seen.add(name)
            unique.append(tool)
    return unique


_GATEWAY_RUN = ("mcp", "file_search", "code_interpreter")  # hosted tools besides web search


def unavailable_tools(declared: list[Tool]) -> list[str]:
    """Declared tools no model sees here (hosted web search without a provider; the code
    interpreter without a working sandbox)."""
    hosted = (*WEB_SEARCH, "code_interpreter")
    return sorted({str(tool["type"]) for tool in declared if tool["type"] in hosted})


def upstream_tools(declared: list[Tool]) -> list[Tool]:
    """What a Responses-native upstream is sent: the declared tools as they came (it runs
    namespaces and deferred loading itself), less those thinkgate cannot serve."""
    return [tool for tool in declared if tool["type"] not in (*WEB_SEARCH, *_GATEWAY_RUN)]


def _flatten(tools: Iterable[Tool], *, loaded: bool) -> Iterable[Tool]:
    for tool in tools:
        if tool["type"] in (*WEB_SEARCH, *_GATEWAY_RUN):  # hosted: engine.hosted_loop
            continue
        if tool["type"] == "namespace":
            for inner in tool["tools"]:
                if loaded or not inner.get("defer_loading"):
                    yield _offered({**inner, "namespace": tool["name"]})
        elif loaded or not tool.get("defer_loading"):
            yield _offered(tool)


def _offered(tool: Tool) -> Tool:
    return {key: value for key, value in tool.items() if key != "defer_loading"}
