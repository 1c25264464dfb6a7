"""The one way the server fetches a URL a client gave it: every hop (the first request and
each redirect) passes the guard, the connection goes to the address that was checked (no
second DNS lookup to rebind), and size, time and redirects are bounded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urljoin

import anyio
import httpx

from thinkgate.errors import InvalidRequestError
from thinkgate.net.guard import CheckedUrl, UrlPolicy, check_url

_REDIRECTS = {301, 302, 303, 307, 308}


@dataclass(frozen=True, slots=True)
class FetchLimits:
    max_bytes: int = 1 << 20
    timeout: float = 10.0
    max_redirects: int = 3


@dataclass(frozen=True, slots=True)
class Fetched:
    url: str
    content_type: str
    body: bytes


async def fetch(
    url: str,
    policy: UrlPolicy,
    limits: FetchLimits,
    *,
    param: str | None,
    client: httpx.AsyncClient | None = None,
) -> Fetched:
    """GET `url` within `limits`; any refusal or failure is a 400 naming `param`."""
    own = client is None
    session = client or httpx.AsyncClient(follow_redirects=False, trust_env=False)
    try:
        with anyio.fail_after(limits.timeout):
            return await _follow(session, url, policy, limits, param)
    except TimeoutError:
        raise _failed(f"fetching it took longer than {limits.timeout:g} s", param) from None
    except httpx.HTTPError as exc:
        raise _failed(f"it could not be fetched ({type(exc).__name__})", param) from None
    finally:
        if own:
            await session.aclose()


async def _follow(
    session: httpx.AsyncClient, url: str, policy: UrlPolicy, limits: FetchLimits, param: str | None
) -> Fetched:
    for _hop in range(limits.max_redirects + 1):
        checked = await check_url(url, policy, param=param)
        request = session.build_request(
            "GET",
            _pinned(checked),
            headers={"Host": _host_header(checked)},
            extensions={"sni_hostname": checked.host},  # TLS checks the URL's own name
        )
        async with _sent(session, request) as reply:
            location = reply.headers.get("location")
            if reply.status_code in _REDIRECTS and location:
                url = urljoin(url, location)
                continue
            if reply.status_code != 200:
                raise _failed(f"the server answered {reply.status_code}", param)
            body = await _read_capped(reply, limits.max_bytes, param)
            return Fetched(url, reply.headers.get("content-type", ""), body)
    raise _failed(f"more than {limits.max_redirects} redirects", param)


def _pinned(checked: CheckedUrl) -> str:
    address = checked.addresses[0]
    host = f"[{address}]" if ":" in address else address
    path = checked.url.path or "/"
    query = f"?{checked.url.query}" if checked.url.query else ""
    return f"{checked.url.scheme}://{host}:{checked.port}{path}{query}"


def _host_header(checked: CheckedUrl) -> str:
    default_port = {"http": 80, "https": 443}[checked.url.scheme]
    return checked.host if checked.port == default_port else f"{checked.host}:{checked.port}"


@asynccontextmanager
async def _sent(
    session: httpx.AsyncClient, request: httpx.Request
) -> AsyncIterator[httpx.Response]:
    reply = await session.send(request, stream=True)
    try:
        yield reply
    finally:
        await reply.aclose()


async def _read_capped(reply: httpx.Response, max_bytes: int, param: str | None) -> bytes:
    declared = reply.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise _failed(f"it is larger than {max_bytes} bytes", param)
    chunks: list[bytes] = []
    size = 0
    async for chunk in reply.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise _failed(f"it is larger than {max_bytes} bytes", param)
        chunks.append(chunk)
    return b"".join(chunks)


def _failed(reason: str, param: str | None) -> InvalidRequestError:
    return InvalidRequestError(
        f"Invalid URL in '{param}': {reason}.", param=param, code="invalid_url"
    )
