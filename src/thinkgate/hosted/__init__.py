"""Hosted tools: tools the gateway runs itself for any model (web search first), each one
module behind `HostedTool`; `engine.hosted_loop` offers them to the model and runs its calls."""

from thinkgate.hosted.base import CallOutcome, FileSource, HostedCall, HostedTool, Source, Turn
from thinkgate.hosted.catalog import HostedTools, hosted_tools_for

__all__ = [
    "CallOutcome",
    "FileSource",
    "HostedCall",
    "HostedTool",
    "HostedTools",
    "Source",
    "Turn",
    "hosted_tools_for",
]
