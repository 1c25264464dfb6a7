"""Client side of the tool protocol: apply V4A patches and run shell commands in a jailed
workspace under an execution policy, and the agent loop that drives any OpenAI endpoint.

Imports nothing from the server packages, so it works against real GPT-5.1 as well.
"""

from __future__ import annotations

from thinkgate.tools.errors import (
    ContextNotFoundError,
    PatchError,
    PatchSyntaxError,
    TargetExistsError,
    TargetMissingError,
    WorkspaceEscapeError,
)
from thinkgate.tools.patch import PatchResult, apply_operation, apply_patch
from thinkgate.tools.policy import Decision, Policy, make_policy
from thinkgate.tools.shell import ShellRunner, scrub_env
from thinkgate.tools.v4a import parse_patch, parse_update_diff
from thinkgate.tools.workspace import Workspace
from thinkgate.tools.writer import write_patch, write_update_diff

__all__ = [
    "ContextNotFoundError",
    "Decision",
    "PatchError",
    "PatchResult",
    "PatchSyntaxError",
    "Policy",
    "ShellRunner",
    "TargetExistsError",
    "TargetMissingError",
    "Workspace",
    "WorkspaceEscapeError",
    "apply_operation",
    "apply_patch",
    "make_policy",
    "parse_patch",
    "parse_update_diff",
    "scrub_env",
    "write_patch",
    "write_update_diff",
]
