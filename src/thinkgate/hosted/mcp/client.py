"""Talking to one MCP server with the official `mcp` SDK: list its tools, call one.

Each list or call opens its own session (streamable HTTP or SSE) with the credentials of
the request at hand, and closes it: nothing of a caller's is kept between requests. A
request-declared server is reached only through `GuardedTransport`, which judges every
connection the SDK makes (the first, the SSE message endpoint, any redirect) with the SSRF
guard and connects to the very address it judged.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio
import httpx2
from mcp.client import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult, TextContent

from thinkgate.errors import InvalidRequestError
from thinkgate.net import UrlPolicy
from thinkgate.net.guard import check_url

Transport = Literal["streamable_http", "sse"]


@dataclass(slots=True, frozen=True)
class Server:
    """One MCP server as a request may use it: where, how, with which credentials (the
    request's own, or the operator's from the environment), and whether its URL is the
    operator's (trusted) or the request's (guarded)."""

    label: str
    url: str
    transport: Transport = "streamable_http"
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    trusted: bool = False


@dataclass(slots=True, frozen=True)
class ListedTool:
    name: str
    description: str | None
    input_schema: dict[str, Any]
    annotations: dict[str, Any] | None


class McpFailure(Exception):
    """A list or call that did not succeed; `error` is the `mcp_call.error` object the SDK
    types define (`mcp_protocol_error`, `http_error`, `mcp_tool_execution_error`)."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(str(error.get("message") or error.get("content") or error))
        self.error = error


class GuardedTransport(httpx2.AsyncBaseTransport):
    """Every request the SDK sends is judged on the addresses its host resolves to, then
    sent to that checked address (Host and TLS name kept), so a second DNS answer cannot
    differ from the one judged."""

    def __init__(self, policy: UrlPolicy) -> None:
        self._policy = policy
        self._inner = httpx2.AsyncHTTPTransport(trust_env=False)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        checked = await check_url(str(request.url), self._policy, param="tools.server_url")
        address = checked.addresses[0]
        request.url = request.url.copy_with(host=address)
        if checked.url.scheme == "https":
            request.extensions = {**request.extensions, "sni_hostname": checked.host}
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


class McpClient:
    """Lists and calls, each bounded by a timeout; every failure is an `McpFailure`."""

    def __init__(self, policy: UrlPolicy, max_output_chars: int) -> None:
        self._policy = policy
        self._max_output = max_output_chars

    async def list_tools(self, server: Server, limit: float) -> list[ListedTool]:
        async def work(client: Client) -> list[ListedTool]:
            listed: list[ListedTool] = []
            cursor: str | None = None
            for _ in range(20):  # pages: a server that never stops paging is cut off
                page = await client.list_tools(cursor=cursor)
                listed += [
                    ListedTool(
                        tool.name,
                        tool.description,
                        dict(tool.input_schema),
                        None
                        if tool.annotations is None
                        else tool.annotations.model_dump(by_alias=True, exclude_none=True),
                    )
                    for tool in page.tools
                ]
                cursor = page.next_cursor
                if not cursor:
                    break
            return listed

        listed: list[ListedTool] = await self._session(server, limit, work)
        return listed

    async def call_tool(
        self, server: Server, name: str, arguments: dict[str, Any], limit: float
    ) -> str:
        async def work(client: Client) -> CallToolResult:
            return await client.call_tool(name, arguments)

        result = await self._session(server, limit, work)
        text = _text(result)[: self._max_output]
        if result.is_error:
            content = [part.model_dump(by_alias=True, exclude_none=True) for part in result.content]
            raise McpFailure({"type": "mcp_tool_execution_error", "content": content})
        return text

    async def _session(self, server: Server, limit: float, work: Any) -> Any:
        try:
            with anyio.fail_after(limit):
                async with self._connected(server) as client:
                    return await work(client)
        except TimeoutError:
            message = f"The MCP server did not answer in {limit:g} s."
            raise McpFailure(_protocol(-32001, message)) from None
        except McpFailure:
            raise
        except InvalidRequestError as refused:  # the guard refused an address on the way
            raise McpFailure(_protocol(-32000, refused.message)) from None
        except MCPError as error:
            raise McpFailure(_protocol(error.error.code, error.error.message)) from None
        except httpx2.HTTPStatusError as error:
            status = error.response.status_code
            raise McpFailure(
                {"type": "http_error", "code": status, "message": f"HTTP {status}"}
            ) from None
        except Exception as error:  # connection refused, a broken stream, a bad answer
            found = _http_status(error)
            if found is not None:
                raise McpFailure(
                    {"type": "http_error", "code": found, "message": f"HTTP {found}"}
                ) from None
            reason = _reason(error)
            message = f"Could not reach the MCP server: {reason}"
            raise McpFailure(_protocol(-32000, message)) from None

    @asynccontextmanager
    async def _connected(self, server: Server) -> AsyncIterator[Client]:
        transport = None if server.trusted else GuardedTransport(self._policy)
        timeout = httpx2.Timeout(30.0)

        def factory(
            headers: dict[str, str] | None = None,
            timeout: httpx2.Timeout | None = timeout,
            auth: httpx2.Auth | None = None,
        ) -> httpx2.AsyncClient:
            return httpx2.AsyncClient(
                headers=headers,
                timeout=timeout,
                auth=auth,
                transport=transport,
                trust_env=False,
                follow_redirects=False,
            )

        if server.transport == "sse":
            connection: Any = sse_client(
                server.url, headers=dict(server.headers), httpx_client_factory=factory
            )
            async with Client(connection) as client:
                yield client
            return
        async with (
            factory(headers=dict(server.headers)) as http,
            Client(streamable_http_client(server.url, http_client=http)) as client,
        ):
            yield client


def _text(result: CallToolResult) -> str:
    parts = [part.text for part in result.content if isinstance(part, TextContent)]
    if not parts and result.structured_content is not None:
        return json.dumps(result.structured_content)
    return "\n".join(parts)


def _protocol(code: int, message: str) -> dict[str, Any]:
    return {"type": "mcp_protocol_error", "code": code, "message": message}


def _http_status(error: BaseException) -> int | None:
    """The HTTP status inside an exception group the SDK's task group raised, if any."""
    if isinstance(error, httpx2.HTTPStatusError):
        return error.response.status_code
    for inner in getattr(error, "exceptions", ()):
        found = _http_status(inner)
        if found is not None:
            return found
    cause = error.__cause__ or error.__context__
    return _http_status(cause) if cause is not None and cause is not error else None


def _reason(error: BaseException) -> str:
    inner = getattr(error, "exceptions", None)
    if inner:
        return _reason(inner[0])
    if isinstance(error, InvalidRequestError):
        return error.message
    return type(error).__name__
