"""Request size limits as pure ASGI middleware, checked before anything is parsed.

Headers: their total size, summed from the scope (431). Body: refused early on
Content-Length, and streamed (chunked) bodies are counted as they arrive, so an oversized
body is never buffered whole (413)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from thinkgate.api.errors import error_response
from thinkgate.errors import HeadersTooLargeError, PayloadTooLargeError


class BodySizeLimit:
    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        max_header_bytes: int = 32 * 1024,
        upload_bytes: int = 0,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # POST /v1/files: a file of `[files] max_file_bytes` plus its multipart framing
        self.upload_bytes = max(max_bytes, upload_bytes)
        self.max_header_bytes = max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = scope["headers"]
        if sum(len(name) + len(value) for name, value in headers) > self.max_header_bytes:
            error = HeadersTooLargeError(
                f"Request headers too large: the limit is {self.max_header_bytes} bytes.",
                code="request_headers_too_large",
            )
            await error_response(error)(scope, receive, send)
            return
        limit = self.upload_bytes if scope["path"] == "/v1/files" else self.max_bytes
        declared = dict(headers).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await error_response(self._error(limit))(scope, receive, send)
            return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not started:
                await error_response(self._error(limit))(scope, receive, send)

    def _error(self, limit: int) -> PayloadTooLargeError:
        return PayloadTooLargeError(
            f"Request body too large: the limit is {limit} bytes.",
            code="request_too_large",
        )


class _TooLarge(Exception):
    pass
