"""The agent loop: ask the model, run every tool call of the answer at once, send the outputs
back, repeat until the model answers without calls or the turn budget is spent.

    task ─► responses.create(tools=[apply_patch, shell, functions…])
         ─► calls? ── no ──► final answer
              │ yes
              ▼
         policy.decide → execute all calls concurrently → *_call_output items
         ─► responses.create(previous_response_id=…, input=outputs)   (or, --stateless,
            store=false and the whole item list resent)   ─► …

Works against any OpenAI-compatible endpoint (thinkgate, GPT-5.1 itself): it only speaks the
public Responses API through the official SDK.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from openai import AsyncOpenAI
from rich.console import Console
from rich.markup import escape

from thinkgate.tools.errors import PatchError
from thinkgate.tools.patch import apply_operation
from thinkgate.tools.policy import PatchAction, Policy, ShellAction, denial_message
from thinkgate.tools.shell import ShellRunner
from thinkgate.tools.workspace import Workspace

DENIED_EXIT_CODE = 126
CALL_TYPES = ("function_call", "custom_tool_call", "apply_patch_call", "shell_call")
TOOL_CHOICES = ("auto", "required", "none", "apply_patch", "shell")


@dataclass(frozen=True, slots=True)
class FunctionTool:
    """A local Python function the model may call (arguments arrive as a dict)."""

    name: str
    parameters: Mapping[str, Any]
    handler: Callable[[dict[str, Any]], str]
    description: str = ""
    strict: bool = True

    def spec(self) -> dict[str, Any]:
        return {
            "type": "function",
            "name": self.name,
            "description": self.description,
            "parameters": dict(self.parameters),
            "strict": self.strict,
        }


@dataclass(slots=True)
class CallRecord:
    """One executed (or refused) call and the output item sent back for it."""

    call: dict[str, Any]
    output: dict[str, Any]
    allowed: bool


@dataclass(slots=True)
class AgentResult:
    final_text: str | None
    stopped: Literal["answer", "max_turns"]
    turns: int = 0
    response_ids: list[str] = field(default_factory=list)
    calls: list[CallRecord] = field(default_factory=list)


def tool_choice_param(choice: str) -> str | dict[str, str]:
    """CLI spelling → request value: `apply_patch`/`shell` force that tool, `function:NAME`
    forces a function, `auto`/`required`/`none` are the plain modes."""
    if choice in ("apply_patch", "shell"):
        return {"type": choice}
    if choice.startswith("function:"):
        return {"type": "function", "name": choice.split(":", 1)[1]}
    if choice in ("auto", "required", "none"):
        return choice
    raise ValueError(f"unknown tool choice {choice!r}; use one of {', '.join(TOOL_CHOICES)}")


class Agent:
    def __init__(
        self,
        client: AsyncOpenAI,
        *,
        model: str,
        workspace: Workspace,
        policy: Policy,
        runner: ShellRunner | None = None,
        tool_choices: Sequence[str] = (),
        functions: Sequence[FunctionTool] = (),
        stateless: bool = False,
        max_turns: int = 8,
        console: Console | None = None,
        request_options: Mapping[str, Any] | None = None,
    ) -> None:
        """`tool_choices` apply turn by turn (e.g. apply_patch, then shell); later turns use
        `auto`. `request_options` are extra create() fields (temperature, max_output_tokens…)."""
        self.client = client
        self.model = model
        self.workspace = workspace
        self.policy = policy
        self.runner = runner or ShellRunner(workspace.root)
        self.tool_choices = [tool_choice_param(c) for c in tool_choices]
        self.functions = {f.name: f for f in functions}
        self.stateless = stateless
        self.max_turns = max_turns
        self.console = console or Console(stderr=True, quiet=True)
        self.request_options = dict(request_options or {})
        self._patch_lock = asyncio.Lock()

    def tools(self) -> list[dict[str, Any]]:
        specs: list[dict[str, Any]] = [{"type": "apply_patch"}, {"type": "shell"}]
        return specs + [f.spec() for f in self.functions.values()]

    async def run(self, task: str) -> AgentResult:
        history: list[dict[str, Any]] = [{"role": "user", "content": task}]
        pending: list[dict[str, Any]] = list(history)
        previous: str | None = None
        result = AgentResult(final_text=None, stopped="max_turns")
        for turn in range(self.max_turns):
            with self.console.status(f"turn {turn + 1}: waiting for the model…"):
                response = await self._create(
                    turn, history if self.stateless else pending, previous
                )
            result.turns = turn + 1
            result.response_ids.append(response.id)
            items = [
                _as_input(item.model_dump(mode="json", exclude_none=True))
                for item in response.output
            ]
            calls = [item for item in items if item.get("type") in CALL_TYPES]
            if not calls:
                result.final_text = response.output_text
                result.stopped = "answer"
                self.console.print(f"[bold green]answer:[/] {escape(response.output_text)}")
                return result
            records = await asyncio.gather(*(self.execute(call) for call in calls))
            result.calls.extend(records)
            outputs = [record.output for record in records]
            history += items + outputs
            pending, previous = outputs, response.id
        self.console.print(f"[yellow]stopped after {self.max_turns} turns[/]")
        return result

    async def _create(
        self, turn: int, input_items: list[dict[str, Any]], previous: str | None
    ) -> Any:
        kwargs: dict[str, Any] = {
            "model": self.model,
            "input": input_items,
            "tools": self.tools(),
            "tool_choice": self.tool_choices[turn] if turn < len(self.tool_choices) else "auto",
            "parallel_tool_calls": True,
            "store": not self.stateless,
            **self.request_options,
        }
        if previous is not None and not self.stateless:
            kwargs["previous_response_id"] = previous
        create: Any = self.client.responses.create
        return await create(**kwargs)

    async def execute(self, call: dict[str, Any]) -> CallRecord:
        """Run one call (refused ones are not run) and build its output item."""
        kind = call["type"]
        if kind == "shell_call":
            record = await self._shell(call)
        elif kind == "apply_patch_call":
            record = await self._patch(call)
        elif kind == "function_call":
            record = await self._function(call)
        else:
            output = f"Tool {call.get('name')!r} is not available in this client."
            item = {"type": "custom_tool_call_output", "call_id": call["call_id"], "output": output}
            record = CallRecord(call, item, allowed=False)
        self._show(record)
        return record

    async def _shell(self, call: dict[str, Any]) -> CallRecord:
        action = call.get("action") or {}
        commands = tuple(str(c) for c in action.get("commands") or ())
        decision = await self.policy.decide(ShellAction(commands))
        if decision.allowed:
            output = await self.runner.run_action(action)
        else:
            message = denial_message(decision, self.policy.mode)
            denied = {"type": "exit", "exit_code": DENIED_EXIT_CODE}
            output = [{"stdout": "", "stderr": message, "outcome": denied} for _ in commands]
            output = output or [{"stdout": "", "stderr": message, "outcome": denied}]
        item: dict[str, Any] = {
            "type": "shell_call_output",
            "call_id": call["call_id"],
            "output": output,
        }
        if action.get("max_output_length") is not None:
            item["max_output_length"] = action["max_output_length"]
        return CallRecord(call, item, decision.allowed)

    async def _patch(self, call: dict[str, Any]) -> CallRecord:
        operation = call.get("operation") or {}
        action = PatchAction(
            str(operation.get("type")), str(operation.get("path")), str(operation.get("diff", ""))
        )
        decision = await self.policy.decide(action)
        status, text = "failed", denial_message(decision, self.policy.mode)
        if decision.allowed:
            try:
                async with self._patch_lock:
                    done = await asyncio.to_thread(apply_operation, self.workspace, operation)
                status, text = "completed", done.output
            except PatchError as exc:
                text = f"Error: {exc}"
        item = {
            "type": "apply_patch_call_output",
            "call_id": call["call_id"],
            "status": status,
            "output": text,
        }
        return CallRecord(call, item, decision.allowed)

    async def _function(self, call: dict[str, Any]) -> CallRecord:
        tool = self.functions.get(str(call.get("name")))
        if tool is None:
            text = f"Error: no function named {call.get('name')!r} exists in this client."
        else:
            try:
                arguments = json.loads(call.get("arguments") or "{}")
                text = await asyncio.to_thread(tool.handler, arguments)
            except Exception as exc:  # the model reads the failure and may retry
                text = f"Error: {type(exc).__name__}: {exc}"
        item = {"type": "function_call_output", "call_id": call["call_id"], "output": text}
        return CallRecord(call, item, tool is not None)

    def _show(self, record: CallRecord) -> None:
        call, output = record.call, record.output
        if call["type"] == "shell_call":
            what = " && ".join(call.get("action", {}).get("commands", []))
            outcomes = [o["outcome"] for o in output["output"]]
            done = ", ".join(f"{o['type']} {o.get('exit_code', '')}".strip() for o in outcomes)
        elif call["type"] == "apply_patch_call":
            op = call.get("operation", {})
            what, done = (
                f"{op.get('type')} {op.get('path')}",
                f"{output['status']}: {output['output']}",
            )
        else:
            what, done = str(call.get("name")), str(output.get("output"))[:200]
        mark = "[green]✓[/]" if record.allowed else "[red]✗ denied[/]"
        self.console.print(
            f"{mark} [bold]{call['type']}[/] {escape(what)} → {escape(done)}", highlight=False
        )


def _as_input(item: dict[str, Any]) -> dict[str, Any]:
    """An output item as the next request's input (fields only the API sets are dropped)."""
    item.pop("created_by", None)
    return item
