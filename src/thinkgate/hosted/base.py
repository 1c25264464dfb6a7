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
Event = str | tuple[str, dict[str, Any]]


@dataclass(slots=True, frozen=True)
class Source:
    """A page a call read: cited with a `url_citation` where the answer names it. With an
    `annotation` (a container file: `container_file_citation`), that is cited where the
    answer names `url` (the file's name)."""

    url: str
    title: str = ""
    annotation: dict[str, Any] | None = field(default=None, compare=False)


@dataclass(slots=True, frozen=True)
class FileSource:
    """A file excerpt a call returned: cited with a `file_citation` where the answer names
    the file or repeats the excerpt's words (hosted.file_search.file_citations)."""

    file_id: str
    filename: str
    text: str


@dataclass(slots=True)
class Turn:
    """What one response's hosted calls share: the text the client wrote (its messages; a
    tool may trust a URL there more than one a page suggests), and each tool's scratch
    (pages a search found or read), under keys of the tool's own."""

    client_text: str = ""
    scratch: dict[str, Any] = field(default_factory=dict)
    owner: str | None = None  # whose stores a call may read (file_search); None: anyone's
    # the conversation so far (history, then input): the code interpreter's auto container
    # is the one its last `code_interpreter_call` used, while that still runs
    items: Sequence[Item] = ()


@dataclass(slots=True)
class HostedCall:
    """One call the model made: the declared tool it calls, the function it named, its parsed
    arguments (None: they were not a JSON object), and its public item while it runs."""

    declared: Tool
    name: str
    arguments: dict[str, Any] | None
    item: Item
    include: tuple[str, ...] = ()
    turn: Turn = field(default_factory=Turn)
    # events sent as the item opens, where they differ per call (None: the tool's
    # `opening`); an event is a type, or (type, fields) (MCP's arguments.delta/done)
    opening: tuple[Event, ...] | None = None


@dataclass(slots=True, frozen=True)
class CallOutcome:
    """How a call ended: its final public item, what the model reads as the call's output,
    and the sources the answer may cite."""

    item: Item
    output: str
    sources: Sequence[Source] = field(default_factory=tuple)
    files: Sequence[FileSource] = field(default_factory=tuple)
    closing: tuple[Event, ...] | None = None  # None: the tool's `closing` if completed
    pauses: bool = False  # the response ends here, awaiting the client (an MCP approval)

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
