"""What went wrong with one upstream attempt, and what the client is told about it.

A failure before the first Delta may move on to the next channel (`retryable`); after it,
or when every channel failed, it becomes one of our own errors (502/503/504, or the
upstream's 400 passed back as a 400).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from thinkgate.errors import (
    InvalidRequestError,
    ThinkgateError,
    UpstreamError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)

Reason = Literal["connect", "timeout", "status", "malformed", "cut", "unavailable", "failed"]

# Statuses that say "this channel, not this request": try another one.
_RETRYABLE_STATUSES = frozenset({401, 403, 404, 408, 409, 429})


@dataclass(eq=False)
class UpstreamFailure(Exception):
    channel: str
    reason: Reason
    detail: str
    status: int | None = None
    retry_after: float | None = None
    error: dict[str, Any] | None = None  # the upstream's own `error` object, if it sent one

    def __str__(self) -> str:
        return f"{self.channel}: {self.describe()}"

    @property
    def retryable(self) -> bool:
        if self.reason != "status" or self.status is None:
            return self.reason != "failed"
        return self.status >= 500 or self.status in _RETRYABLE_STATUSES

    def describe(self) -> str:
        if self.reason == "status":
            return f"HTTP {self.status} ({self.detail})"
        return self.detail

    def client_error(self) -> ThinkgateError:
        """This failure in OpenAI's words; the upstream's own 4xx message is kept as is."""
        if self.reason == "status" and self.status is not None and not self.retryable:
            error = self.error or {}
            return InvalidRequestError(
                str(error.get("message") or self.detail),
                param=error.get("param") if isinstance(error.get("param"), str) else None,
                code=error.get("code") if isinstance(error.get("code"), str) else None,
            )
        return _server_error(self.reason, f"Upstream channel '{self.channel}': {self.describe()}.")

    def mid_stream_error(self) -> ThinkgateError:
        """After the first Delta the failure ends a response: its `error.code` must be one
        the SDK's `Response` accepts, so it is a plain `server_error` whatever the cause."""
        return UpstreamError(f"Upstream channel '{self.channel}': {self.describe()}.")


def exhausted(model: str, failures: list[UpstreamFailure]) -> ThinkgateError:
    """Every channel was tried (or none could be): the last failure decides the status."""
    if not failures:
        return UpstreamUnavailableError(
            f"No upstream channel for '{model}' is available right now "
            "(circuit open or cooling down after a rate limit); retry shortly.",
            code="upstream_unavailable",
        )
    tried = "; ".join(str(failure) for failure in failures)
    last = failures[-1]
    message = f"All upstream channels for '{model}' failed: {tried}."
    if last.reason == "status" and last.status == 429:
        return UpstreamUnavailableError(message, code="upstream_rate_limited")
    return _server_error(last.reason, message)


def _server_error(reason: Reason, message: str) -> ThinkgateError:
    if reason == "timeout":
        return UpstreamTimeoutError(message)
    if reason == "unavailable":
        return UpstreamUnavailableError(message, code="upstream_unavailable")
    return UpstreamError(message)
