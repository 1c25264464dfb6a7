"""What went wrong with one upstream attempt, and what the client is told about it.

A failure before the first Delta may move on to the next channel (`retryable`); after it,
or when every channel failed, it becomes one of our own errors (502/503/504, or the
upstream's 400 passed back as a 400).

`detail`: whether the caller may see the operator's side (an admin key, or a server with
no keys): channel names and the upstream's own words. A member key is told what kind of
failure it was, never which channel, and never an upstream's text that may quote the
operator's (masked) key; the log keeps the whole story.
"""

from __future__ import annotations

import re
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

# What a member key is told of each kind of failure (no channel, no upstream text).
_PUBLIC: dict[Reason, str] = {
    "connect": "could not be reached",
    "timeout": "timed out",
    "status": "answered with an error",
    "malformed": "sent a malformed reply",
    "cut": "broke off its reply",
    "unavailable": "is not available",
    "failed": "reported a failure",
}
# Key-like words an upstream may quote ("Incorrect API key provided: sk-proj-ab**…wxyz").
_SECRET_LIKE = re.compile(r"\b(?:sk|pk|rk|key)[-_][\w*.\-]{3,}|\S*\*{3,}\S*", re.IGNORECASE)

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

    def public(self) -> str:
        """The kind of failure, in words that name no channel and quote no upstream."""
        status = f" (HTTP {self.status})" if self.reason == "status" else ""
        return f"the upstream service {_PUBLIC[self.reason]}{status}"

    def client_error(self, *, detail: bool = True) -> ThinkgateError:
        """This failure in OpenAI's words; the upstream's own 4xx message is kept (for a
        member key, with anything key-like in it masked out)."""
        if self.reason == "status" and self.status is not None and not self.retryable:
            error = self.error or {}
            message = str(error.get("message") or self.detail)
            return InvalidRequestError(
                message if detail else _SECRET_LIKE.sub("[redacted]", message),
                param=error.get("param") if isinstance(error.get("param"), str) else None,
                code=error.get("code") if isinstance(error.get("code"), str) else None,
            )
        said = f"Upstream channel '{self.channel}': {self.describe()}" if detail else self.public()
        return _server_error(self.reason, said[:1].upper() + said[1:] + ".")

    def mid_stream_error(self, *, detail: bool = True) -> ThinkgateError:
        """After the first Delta the failure ends a response: its `error.code` must be one
        the SDK's `Response` accepts, so it is a plain `server_error` whatever the cause."""
        if not detail:
            return UpstreamError(f"Mid-response, {self.public()}.")
        return UpstreamError(f"Upstream channel '{self.channel}': {self.describe()}.")


def exhausted(
    model: str, failures: list[UpstreamFailure], *, detail: bool = True
) -> ThinkgateError:
    """Every channel was tried (or none could be): the last failure decides the status."""
    if not failures:
        return UpstreamUnavailableError(
            f"No upstream channel for '{model}' is available right now "
            "(circuit open or cooling down after a rate limit); retry shortly.",
            code="upstream_unavailable",
        )
    last = failures[-1]
    if detail:
        tried = "; ".join(str(failure) for failure in failures)
        message = f"All upstream channels for '{model}' failed: {tried}."
    else:
        message = f"Every upstream attempt for '{model}' failed ({len(failures)}); last: "
        message += f"{last.public()}."
    if last.reason == "status" and last.status == 429:
        return UpstreamUnavailableError(message, code="upstream_rate_limited")
    return _server_error(last.reason, message)


def _server_error(reason: Reason, message: str) -> ThinkgateError:
    if reason == "timeout":
        return UpstreamTimeoutError(message)
    if reason == "unavailable":
        return UpstreamUnavailableError(message, code="upstream_unavailable")
    return UpstreamError(message)
