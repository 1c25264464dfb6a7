"""The upstream HTTP/1.1 client (`backends.upstream.http1`) against raw loopback servers.

Each server is a few lines of asyncio that answer exactly as written, so the cases a
general-purpose server would never produce (a keep-alive connection closed while idle, a
body cut short, a body delimited by the close, gzip, silence) can be produced on purpose.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from thinkgate.backends.upstream.http1 import HTTPClientError, Pool

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


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
) -> AsyncIterator[Server]:
    server = Server(lambda r, w: handler(server, r, w))
    listener = await asyncio.start_server(server.serve, "127.0.0.1", 0, ssl=ssl_context)
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


async def _read_all(pool: Pool, body: bytes = b"{}") -> tuple[int, bytes]:
    reply = await pool.request("POST", "chat/completions", body)
    data = await reply.read_all(1 << 20)
    reply.release()
    return reply.status, data


def _pool(port: int, scheme: str = "http", read_timeout: float = 5.0) -> Pool:
    return Pool(
        f"{scheme}://127.0.0.1:{port}/v1",
        {"Authorization": "Bearer sk-up"},
        connect_timeout=5,
        read_timeout=read_timeout,
    )


async def test_keep_alive_reuses_one_connection_and_sends_the_request_whole() -> None:
    async def handler(
        server: Server, reader: asyncio.StreamReader, w: asyncio.StreamWriter
    ) -> None:
        while request := await server.request(reader):
            w.write(_reply(b"data: " + request.rsplit(b"\r\n\r\n", 1)[1] + b"\n\n"))

    async with serving(handler) as server:
        pool = _pool(server.port)
        answers = [await _read_all(pool, b'{"n":%d}' % n) for n in range(3)]
        await pool.aclose()
    assert answers == [(200, b'data: {"n":%d}\n\n' % n) for n in range(3)]
    assert server.connections == 1
    head = server.heads[0].decode()
    assert head.startswith("POST /v1/chat/completions HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{server.port}" in head and "Authorization: Bearer sk-up" in head


async def test_chunked_body_arrives_in_pieces_and_ends() -> None:
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
        pool = _pool(server.port)
        reply = await pool.request("POST", "chat/completions", b"{}")
        pieces = []
        while (piece := await reply.read()) is not None:
            pieces.append(piece)
        assert reply.at_eof()
        reply.release()
        await pool.aclose()
    assert pieces == [b"data: 1\n\n", b"data: 2\n\n"]


async def test_an_idle_connection_the_server_closed_is_replaced_not_failed() -> None:
    # keep-alive said (HTTP/1.1), then the server drops the connection anyway
    async with serving(answering_once(_reply(b"data: ok\n\n"))) as server:
        pool = _pool(server.port)
        first = await _read_all(pool)
        await asyncio.sleep(0.1)  # the server has closed the idle connection by now
        second = await _read_all(pool)
        await pool.aclose()
    assert first == second == (200, b"data: ok\n\n")
    assert server.connections == 2


async def test_a_body_cut_short_is_an_error_not_an_end() -> None:
    cut = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\ndata: half"
    async with serving(answering_once(cut)) as server:
        pool = _pool(server.port)
        reply = await pool.request("POST", "chat/completions", b"{}")
        assert await reply.read() == b"data: half"
        with pytest.raises(HTTPClientError):
            await reply.read()
        reply.close()
        await pool.aclose()


async def test_a_body_delimited_by_the_close_ends_cleanly() -> None:
    until_close = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\ndata: all\n\n"
    async with serving(answering_once(until_close)) as server:
        pool = _pool(server.port)
        assert await _read_all(pool) == (200, b"data: all\n\n")
        await pool.aclose()


async def test_a_silent_upstream_times_out_on_read() -> None:
    async def handler(
        server: Server, reader: asyncio.StreamReader, w: asyncio.StreamWriter
    ) -> None:
        await server.request(reader)
        w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        await w.drain()
        await asyncio.sleep(5)

    async with serving(handler) as server:
        pool = _pool(server.port, read_timeout=0.2)
        reply = await pool.request("POST", "chat/completions", b"{}")
        with pytest.raises(TimeoutError):
            await reply.read()
        reply.close()
        await pool.aclose()


async def test_gzip_is_decoded_and_garbage_is_an_error() -> None:
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
        pool = _pool(server.port)
        assert await _read_all(pool) == (200, b"data: zipped\n\n")
        await pool.aclose()
        pool = _pool(server.port)
        assert await _read_all(pool, b"garbage") == (200, b"hello")
        await pool.aclose()


async def test_connect_refused_is_a_client_error() -> None:
    async with serving(lambda s, r, w: asyncio.sleep(0)) as server:
        port = server.port
    pool = _pool(port)
    with pytest.raises(HTTPClientError):
        await pool.request("POST", "chat/completions", b"{}")


async def test_https_with_a_trusted_certificate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
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
        pool = Pool(f"https://localhost:{server.port}/v1", {}, connect_timeout=5, read_timeout=5)
        assert await _read_all(pool) == (200, b"data: secret\n\n")
        assert await _read_all(pool) == (200, b"data: secret\n\n")
        await pool.aclose()
        untrusted = Pool(  # the name does not match the certificate: refused
            f"https://127.0.0.1:{server.port}/v1", {}, connect_timeout=5, read_timeout=5
        )
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
