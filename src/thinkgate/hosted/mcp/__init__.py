"""Remote MCP servers as a hosted tool (docs/mcp.md)."""

from thinkgate.hosted.mcp.approvals import Approvals
from thinkgate.hosted.mcp.tool import Announced, Prelude, RemoteMcp

__all__ = ["Announced", "Approvals", "Prelude", "RemoteMcp"]
