"""The upstream transports' conformance suite (`backends.upstream.transport`): every
test runs against each transport (`http1`, `httpx`), over raw loopback servers.

Each server is a few lines of asyncio that answer exactly as written, so the cases a
general-purpose server would never produce (a keep-alive connection closed while idle, a
half-open one, a body cut short, a body delimited by the close, 1xx replies, huge headers,
a gzip bomb, silence) can be produced on purpose; a forward proxy and a TLS server that
asks for a client certificate are as small.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from thinkgate.backends.upstream import transport as transport_module
from thinkgate.backends.upstream.channel import open_transport
from thinkgate.backends.upstream.transport import (
    Transport,
    TransportError,
    TransportOptions,
    host_header,
)

HTTPClientError = TransportError
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
pytestmark = pytest.mark.anyio
KINDS = ("http1", "httpx")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class Server:
    """A raw server on loopback: counts connections, records request heads."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.heads: list[bytes] = []
        self.port = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self.handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def request(self, reader: asyncio.StreamReader) -> bytes:
        """One request (head and Content-Length body); b"" when the client closed."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return b""
        self.heads.append(head)
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        return head + await reader.readexactly(length)


@asynccontextmanager
async def serving(
    handler: Callable[[Server, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
    ssl_context: ssl.SSLContext | None = None,
    host: str = "127.0.0.1",
) -> AsyncIterator[Server]:
    server = Server(lambda r, w: handler(server, r, w))
    listener = await asyncio.start_server(server.serve, host, 0, ssl=ssl_context)
    server.port = listener.sockets[0].getsockname()[1]
    async with listener:
        yield server


def answering_once(
    raw: bytes,
) -> Callable[[Server, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    """A server that reads one request, writes `raw` and closes the connection."""

    async def handler(
        server: Server, reader: asyncio.StreamReader, w: asyncio.StreamWriter
    ) -> None:
        await server.request(reader)
        w.write(raw)
        await w.drain()

    return handler


def _reply(body: bytes, *, extra: bytes = b"") -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
        + extra
        + b"Content-Length: %d\r\n\r\n" % len(body)
        + body
    )


async def _read_all(pool: Transport, body: bytes = b"{}") -> tuple[int, bytes]:
    reply = await pool.request("POST", "chat/completions", body)
    data = await reply.read_all(1 << 20)
    reply.release()
    return reply.status, data


def _pool(
    kind: str, port: int, *, read_timeout: float = 5.0, base: str | None = None, **options: Any
) -> Transport:
    return open_transport(
        kind,
        TransportOptions(
            base or f"http://127.0.0.1:{port}/v1",
            {"Authorization": "Bearer sk-up"},
            connect_timeout=5,
            read_timeout=read_timeout,
            **options,
        ),
    )


def keep_answering(
    body: bytes,
) -> Callable[[Server, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    """A keep-alive server: answers every request on a connection with `body`."""

    async def handler(
        server: Server, reader: asyncio.StreamReader, w: asyncio.StreamWriter
    ) -> None:
        while await server.request(reader):
            w.write(_reply(body))

    return handler


async def test_keep_alive_reuses_one_connection_and_sends_the_request_whole(kind: str) -> None:
    async def handler(
        server: Server, reader: asyncio.StreamReader, w: asyncio.StreamWriter
    ) -> None:
        while request := await server.request(reader):
            w.write(_reply(b"data: " + request.rsplit(b"\r\n\r\n", 1)[1] + b"\n\n"))

    async with serving(handler) as server:
        pool = _pool(kind, server.port)
        answers = [await _read_all(pool, b'{"n":%d}' % n) for n in range(3)]
        await pool.aclose()
    assert answers == [(200, b'data: {"n":%d}\n\n' % n) for n in range(3)]
    assert server.connections == 1
    head = server.heads[0].decode()
    assert head.startswith("POST /v1/chat/completions HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{server.port}" in head and "Authorization: Bearer sk-up" in head


async def test_chunked_body_arrives_in_pieces_and_ends(kind: str) -> None:
    async def handler(
        server: Server, reader: asyncio.StreamReader, w: asyncio.StreamWriter
    ) -> None:
        await server.request(reader)
        w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for piece in (b"data: 1\n\n", b"data: 2\n\n"):
            w.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            await w.drain()
            await asyncio.sleep(0.05)
        w.write(b"0\r\n\r\n")
        await server.request(reader)  # keep the connection open until the client leaves

    async with serving(handler) as server:
        pool = _pool(kind, server.port)
        reply = await pool.request("POST", "chat/completions", b"{}")
        pieces = []
        while (piece := await reply.read()) is not None:
            pieces.append(piece)
        assert reply.at_eof()
        reply.release()
        await pool.aclose()
    assert pieces == [b"data: 1\n\n", b"data: 2\n\n"]


async def test_an_idle_connection_the_server_closed_is_replaced_not_failed(kind: str) -> None:
    # keep-alive said (HTTP/1.1), then the server drops the connection anyway
    async with serving(answering_once(_reply(b"data: ok\n\n"))) as server:
        pool = _pool(kind, server.port)
        first = await _read_all(pool)
        await asyncio.sleep(0.1)  # the server has closed the idle connection by now
        second = await _read_all(pool)
        await pool.aclose()
    assert first == second == (200, b"data: ok\n\n")
    assert server.connections == 2


async def test_a_body_cut_short_is_an_error_not_an_end(kind: str) -> None:
    cut = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\ndata: half"
    async with serving(answering_once(cut)) as server:
        pool = _pool(kind, server.port)
        reply = await pool.request("POST", "chat/completions", b"{}")
        assert await reply.read() == b"data: half"
        with pytest.raises(HTTPClientError):
            await reply.read()
        reply.close()
        await pool.aclose()


async def test_a_body_delimited_by_the_close_ends_cleanly(kind: str) -> None:
    until_close = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\ndata: all\n\n"
    async with serving(answering_once(until_close)) as server:
        pool = _pool(kind, server.port)
        assert await _read_all(pool) == (200, b"data: all\n\n")
        await pool.aclose()


async def test_a_silent_upstream_times_out_on_read(kind: str) -> None:
    async def handler(
        server: Server, reader: asyncio.StreamReader, w: asyncio.StreamWriter
    ) -> None:
        await server.request(reader)
        w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        await w.drain()
        await asyncio.sleep(5)

    async with serving(handler) as server:
        pool = _pool(kind, server.port, read_timeout=0.2)
        reply = await pool.request("POST", "chat/completions", b"{}")
        with pytest.raises(TimeoutError):
            await reply.read()
        reply.close()
        await pool.aclose()


async def test_gzip_is_decoded_and_garbage_is_an_error(kind: str) -> None:
    async def handler(
        server: Server, reader: asyncio.StreamReader, w: asyncio.StreamWriter
    ) -> None:
        request = await server.request(reader)
        if b"garbage" in request:
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
            w.write(b"NOT HTTP AT ALL\r\n\r\n")  # bytes nobody asked for
            await server.request(reader)
            return
        w.write(_reply(gzip.compress(b"data: zipped\n\n"), extra=b"Content-Encoding: gzip\r\n"))
        await server.request(reader)

    async with serving(handler) as server:
        pool = _pool(kind, server.port)
        assert await _read_all(pool) == (200, b"data: zipped\n\n")
        await pool.aclose()
        pool = _pool(kind, server.port)
        assert await _read_all(pool, b"garbage") == (200, b"hello")
        await pool.aclose()


async def test_connect_refused_is_a_client_error(kind: str) -> None:
    async with serving(lambda s, r, w: asyncio.sleep(0)) as server:
        port = server.port
    pool = _pool(kind, port)
    with pytest.raises(HTTPClientError):
        await pool.request("POST", "chat/completions", b"{}")


async def test_https_with_a_trusted_certificate(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = _self_signed(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the client trusts this one certificate

    async def handler(
        server: Server, reader: asyncio.StreamReader, w: asyncio.StreamWriter
    ) -> None:
        while await server.request(reader):
            w.write(_reply(b"data: secret\n\n"))

    async with serving(handler, server_context) as server:
        pool = _pool(kind, 0, base=f"https://localhost:{server.port}/v1")
        assert await _read_all(pool) == (200, b"data: secret\n\n")
        assert await _read_all(pool) == (200, b"data: secret\n\n")
        await pool.aclose()
        # the name does not match the certificate: refused
        untrusted = _pool(kind, 0, base=f"https://127.0.0.1:{server.port}/v1")
        with pytest.raises(HTTPClientError):
            await untrusted.request("POST", "chat/completions", b"{}")
    assert server.connections == 1  # kept alive; the refused handshake never got this far


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def test_a_connection_idle_past_its_expiry_is_not_reused(kind: str) -> None:
    async with serving(keep_answering(b"data: ok\n\n")) as server:
        pool = _pool(kind, server.port, idle_expiry=0.1)
        assert await _read_all(pool) == (200, b"data: ok\n\n")
        await asyncio.sleep(0.3)
        assert await _read_all(pool) == (200, b"data: ok\n\n")
        await pool.aclose()
    assert server.connections == 2


async def test_a_half_open_connection_fails_the_request_it_does_not_send_it_twice(
    kind: str,
) -> None:
    """The server takes the second request on the kept-alive connection, then dies without
    a word: its bytes may have reached the upstream, so it is an error, never a resend."""

    async def handler(
        server: Server, reader: asyncio.StreamReader, w: asyncio.StreamWriter
    ) -> None:
        await server.request(reader)
        w.write(_reply(b"data: first\n\n"))
        await w.drain()
        await server.request(reader)  # taken, never answered

    async with serving(handler) as server:
        pool = _pool(kind, server.port)
        assert await _read_all(pool) == (200, b"data: first\n\n")
        with pytest.raises(TransportError):
            await _read_all(pool, b'{"pay": "once"}')
        await asyncio.sleep(0.3)  # time for a resend to arrive, were there one
        await pool.aclose()
    assert [head.startswith(b"POST ") for head in server.heads] == [True, True]
    assert server.connections == 1


async def test_informational_replies_are_skipped(kind: str) -> None:
    early = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"
    async with serving(answering_once(early + _reply(b"data: final\n\n"))) as server:
        pool = _pool(kind, server.port)
        reply = await pool.request("POST", "chat/completions", b"{}")
        assert reply.status == 200 and "link" not in reply.headers
        assert await reply.read_all(1 << 20) == b"data: final\n\n"
        reply.release()
        await pool.aclose()


async def test_headers_past_the_limit_are_an_error(kind: str) -> None:
    huge = b"X-Filler: " + b"a" * (transport_module.MAX_HEADER_BYTES + 1024) + b"\r\n"
    async with serving(answering_once(_reply(b"data: ok\n\n", extra=huge))) as server:
        pool = _pool(kind, server.port)
        with pytest.raises(TransportError):
            await pool.request("POST", "chat/completions", b"{}")
        await pool.aclose()


async def test_a_gzip_bomb_is_cut_off_not_inflated(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transport_module, "MAX_DECODED_BYTES", 1 << 20)
    bomb = gzip.compress(b"\0" * (16 << 20))  # 16 MiB of zeros in ~16 KiB
    extra = b"Content-Encoding: gzip\r\n"
    async with serving(answering_once(_reply(bomb, extra=extra))) as server:
        pool = _pool(kind, server.port)
        with pytest.raises(TransportError, match="limit"):
            reply = await pool.request("POST", "chat/completions", b"{}")
            await reply.read_all(64 << 20)
        await pool.aclose()


async def test_the_environment_proxy_is_used_unless_no_proxy_says_otherwise(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with (
        serving(keep_answering(b"data: via the proxy\n\n")) as proxy,
        serving(keep_answering(b"data: direct\n\n")) as direct,
    ):
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        proxied = _pool(kind, 0, base="http://upstream.example:8080/v1")
        assert await _read_all(proxied) == (200, b"data: via the proxy\n\n")
        await proxied.aclose()
        head = proxy.heads[0].decode()
        assert head.startswith("POST http://upstream.example:8080/v1/chat/completions ")
        bypassing = _pool(kind, direct.port)  # 127.0.0.1 is in NO_PROXY
        assert await _read_all(bypassing) == (200, b"data: direct\n\n")
        await bypassing.aclose()
    assert len(proxy.heads) == 1 and len(direct.heads) == 1


async def test_a_channel_ca_and_client_certificate(kind: str, tmp_path: Path) -> None:
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(server_context)
    authority.configure_trust(server_context)
    server_context.verify_mode = ssl.CERT_REQUIRED  # no client certificate, no reply
    ca_file, client_file = tmp_path / "ca.pem", tmp_path / "client.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    client = authority.issue_cert("client.example")
    client.private_key_and_cert_chain_pem.write_to_path(str(client_file))
    async with serving(keep_answering(b"data: mutual\n\n"), server_context) as server:
        base = f"https://localhost:{server.port}/v1"
        pool = _pool(kind, 0, base=base, ca_file=str(ca_file), client_cert=str(client_file))
        assert await _read_all(pool) == (200, b"data: mutual\n\n")
        await pool.aclose()
        for options in ({"ca_file": str(ca_file)}, {"client_cert": str(client_file)}):
            refused = _pool(kind, 0, base=base, **options)  # no certificate; or no trust
            with pytest.raises(TransportError):
                await _read_all(refused)
            await refused.aclose()


async def test_an_ipv6_literal_gets_a_bracketed_host(kind: str) -> None:
    async with serving(keep_answering(b"data: six\n\n"), host="::1") as server:
        pool = _pool(kind, 0, base=f"http://[::1]:{server.port}/v1")
        assert await _read_all(pool) == (200, b"data: six\n\n")
        await pool.aclose()
    assert f"Host: [::1]:{server.port}\r\n".lower() in server.heads[0].decode().lower()
    assert host_header("::1", 443, "https") == "[::1]"  # the default port left out
    assert host_header("::1", 80, "https") == "[::1]:80"
