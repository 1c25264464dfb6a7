"""What one hosted tool is to the loop that runs it: adding a tool is one module.

declared tool ─► functions() the functions the model is offered (web search: one;
                             an MCP server: one per tool it lists)
model's call  ─► begin()     the public item, status `in_progress` (output_item.added)
              ─► run()       the work; never raises for the tool's own failures:
                             a failed call is an outcome (status `failed`, an error
                             the model reads) so the model can still answer
events        ─► `opening` after `added`, `working` before `run`, `closing` with `done`
price         ─► `price_key` in `[tool_pricing]`, counted for `completed` items only
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

Tool = dict[str, Any]
Item = dict[str, Any]


@dataclass(slots=True, frozen=True)
class Source:
    """A page a call read: cited with a `url_citation` where the answer names it."""

    url: str
    title: str = ""


@dataclass(slots=True)
class HostedCall:
    """One call the model made: the declared tool it calls, the function it named, its parsed
    arguments (None: they were not a JSON object), and its public item while it runs."""

    declared: Tool
    name: str
    arguments: dict[str, Any] | None
    item: Item
    include: tuple[str, ...] = ()


@dataclass(slots=True, frozen=True)
class CallOutcome:
    """How a call ended: its final public item, what the model reads as the call's output,
    and the sources the answer may cite."""

    item: Item
    output: str
    sources: Sequence[Source] = field(default_factory=tuple)

    @property
    def completed(self) -> bool:
        return self.item.get("status") == "completed"


class HostedTool(Protocol):
    """A tool type the gateway serves. `types`: the declared `type`s it answers
    (`web_search`, `web_search_preview`…); `item_type`: its public item's type."""

    types: ClassVar[tuple[str, ...]]
    item_type: ClassVar[str]
    id_prefix: ClassVar[str]  # its items' ids: `ws_…`
    price_key: ClassVar[str]
    opening: ClassVar[tuple[str, ...]]
    working: ClassVar[tuple[str, ...]]
    closing: ClassVar[tuple[str, ...]]

    def functions(self, declared: Tool) -> list[Tool]:
        """The canonical function tools the model is offered for this declared tool (their
        names must not collide with the client's own tools)."""
        ...

    def begin(self, call: HostedCall) -> None:
        """Fill `call.item` (its id is set) as the call opens, from the arguments."""
        ...

    async def run(self, call: HostedCall) -> CallOutcome: ...

    async def aclose(self) -> None: ...
