"""Decide whether a tool call may run: `approve`, `allowlist`, `auto` or `deny`.

    approve    ask a person (a callback; the CLI shows the command or diff and asks y/n)
    allowlist  shell commands must match a pattern; patches inside the workspace pass
    auto       everything whose paths stay inside the workspace
    deny       nothing runs

An allowlisted shell line is split at `;`, `&&`, `||`, `|`, `&` and newlines, and every
simple command in it must match, so `ls*` does not also allow `ls; rm -rf ~`. Command
substitution (`$(…)`, backquotes, `<(…)`) is never allowlisted: it hides commands.
"""

from __future__ import annotations

import asyncio
import fnmatch
import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from thinkgate.tools.workspace import Workspace

Mode = Literal["approve", "allowlist", "auto", "deny"]
MODES: tuple[Mode, ...] = ("approve", "allowlist", "auto", "deny")
_SEPARATORS = {";", "&&", "||", "|", "&", ";;", "|&", "\n"}
_SUBSTITUTION = re.compile(r"\$\(|`|<\(|>\(")


@dataclass(frozen=True, slots=True)
class ShellAction:
    commands: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PatchAction:
    operation: str
    path: str
    diff: str


Action = ShellAction | PatchAction
Approver = Callable[[Action], bool]


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str


class Policy:
    def __init__(
        self,
        mode: Mode,
        workspace: Workspace,
        *,
        allow: Sequence[str] = (),
        approver: Approver | None = None,
    ) -> None:
        if mode == "approve" and approver is None:
            raise ValueError("the approve policy needs an approver callback")
        self.mode = mode
        self.workspace = workspace
        self.patterns = tuple(allow)
        self.approver = approver
        self._ask_lock = asyncio.Lock()

    async def decide(self, action: Action) -> Decision:
        if self.mode == "deny":
            return Decision(False, "the 'deny' policy refuses every tool call")
        if isinstance(action, PatchAction) and not self.workspace.contains(action.path):
            return Decision(False, f"path {action.path!r} is outside the workspace")
        if self.mode == "auto":
            return Decision(True, "auto")
        if self.mode == "allowlist":
            return self._allowlist(action)
        return await self._ask(action)

    def _allowlist(self, action: Action) -> Decision:
        if isinstance(action, PatchAction):
            return Decision(True, "patches inside the workspace are allowed")
        for command in action.commands:
            refusal = self._refusal(command)
            if refusal:
                return Decision(False, refusal)
        return Decision(True, "every command matches the allowlist")

    def _refusal(self, command: str) -> str | None:
        if _SUBSTITUTION.search(command):
            return f"command {command!r} uses command substitution, which is never allowlisted"
        try:
            parts = split_simple_commands(command)
        except ValueError as exc:
            return f"command {command!r} could not be parsed ({exc})"
        for part in parts:
            if not any(matches(pattern, part) for pattern in self.patterns):
                return f"command {part!r} matches no allowed pattern"
        return None

    async def _ask(self, action: Action) -> Decision:
        assert self.approver is not None
        async with self._ask_lock:  # one question at a time, even for parallel calls
            approved = await asyncio.to_thread(self.approver, action)
        return Decision(approved, "approved by the user" if approved else "refused by the user")


def matches(pattern: str, command: str) -> bool:
    """`re:<regex>` must match the whole command; anything else is an fnmatch glob."""
    if pattern.startswith("re:"):
        return re.fullmatch(pattern[3:], command) is not None
    return fnmatch.fnmatchcase(command, pattern)


def split_simple_commands(command: str) -> list[str]:
    """`a x && b | c` → ["a x", "b", "c"] (tokens re-joined with single spaces)."""
    lexer = shlex.shlex(command.replace("\n", " ; "), posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    parts: list[str] = []
    current: list[str] = []
    for token in lexer:
        if token in _SEPARATORS:
            if current:
                parts.append(" ".join(current))
            current = []
        else:
            current.append(token)
    if current:
        parts.append(" ".join(current))
    return parts


def denial_message(decision: Decision, policy: Mode) -> str:
    """What the model reads for a refused call."""
    return (
        f"Denied by the '{policy}' execution policy: {decision.reason}. "
        "It was NOT executed. Do not retry it; choose an allowed action or answer directly."
    )


def make_policy(
    mode: str,
    workspace: Workspace,
    *,
    allow: Sequence[str] = (),
    approver: Approver | None = None,
) -> Policy:
    if mode not in MODES:
        raise ValueError(f"unknown policy {mode!r}; choose one of {', '.join(MODES)}")
    return Policy(mode, workspace, allow=allow, approver=approver)
