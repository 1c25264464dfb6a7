"""`thinkgate agent` behind the CLI: build the client, policy and agent; ask y/n with rich."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Sequence
from pathlib import Path

import click
import openai
from openai import AsyncOpenAI
from rich.console import Console, Group
from rich.panel import Panel
from rich.prompt import Confirm
from rich.syntax import Syntax

from thinkgate.tools.agent import Agent, AgentResult
from thinkgate.tools.policy import Action, Approver, ShellAction, make_policy
from thinkgate.tools.shell import ShellRunner
from thinkgate.tools.workspace import Workspace


def ask_approval(console: Console) -> Approver:
    """An approver that shows the command (or the diff) and asks the user y/n."""

    def approve(action: Action) -> bool:
        if isinstance(action, ShellAction):
            body = Group(*(Syntax(c, "bash", word_wrap=True) for c in action.commands))
            title = "run shell command(s)?"
        else:
            body = Group(Syntax(action.diff or "(no diff)", "diff", word_wrap=True))
            title = f"{action.operation} {action.path}?"
        console.print(Panel(body, title=title))
        return Confirm.ask("allow?", console=console, default=False)

    return approve


def run_agent(
    task: str,
    *,
    workspace: Path,
    base_url: str,
    api_key: str,
    model: str,
    policy: str,
    allow: Sequence[str],
    max_turns: int,
    tool_choices: Sequence[str],
    stateless: bool,
    temperature: float | None = None,
    max_output_tokens: int | None = None,
    timeout: float = 600,
) -> AgentResult:
    console = Console(stderr=True)
    space = Workspace(workspace)
    approver = ask_approval(console) if policy == "approve" else None
    rules = make_policy(policy, space, allow=allow, approver=approver)
    options: dict[str, object] = {}
    if temperature is not None:
        options["temperature"] = temperature
    if max_output_tokens is not None:
        options["max_output_tokens"] = max_output_tokens

    async def main() -> AgentResult:
        async with AsyncOpenAI(
            base_url=base_url, api_key=api_key, max_retries=1, timeout=timeout
        ) as client:
            agent = Agent(
                client,
                model=model,
                workspace=space,
                policy=rules,
                runner=ShellRunner(space.root),
                tool_choices=tool_choices,
                stateless=stateless,
                max_turns=max_turns,
                console=console,
                request_options=options,
            )
            return await agent.run(task)

    try:
        return asyncio.run(main())
    except openai.APIError as exc:
        raise click.ClickException(f"the API refused the request: {exc}") from exc
    except openai.OpenAIError as exc:
        raise click.ClickException(str(exc)) from exc


def api_key_from(api_key: str | None, api_key_env: str) -> str:
    return api_key or os.environ.get(api_key_env) or ""


def write_transcript(path: Path, result: AgentResult) -> None:
    """Every call and the output sent back for it, as JSON (for scripts and tests)."""
    data = {
        "final_text": result.final_text,
        "stopped": result.stopped,
        "turns": result.turns,
        "response_ids": result.response_ids,
        "calls": [{"call": r.call, "output": r.output, "allowed": r.allowed} for r in result.calls],
    }
    path.write_text(json.dumps(data, indent=2))
