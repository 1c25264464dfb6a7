"""The one exception hierarchy; `api/errors.py` renders it as OpenAI error bodies.

    ThinkgateError (500 server_error)
    ├── ClientError (4xx)
    │   ├── InvalidRequestError        400 invalid_request_error (+ param, code)
    │   ├── AuthenticationError        401
    │   ├── PermissionDeniedError      403
    │   ├── NotFoundError              404
    │   ├── ConflictError              409
    │   ├── PayloadTooLargeError       413
    │   ├── HeadersTooLargeError       431
    │   └── RateLimitError             429
    │       └── QuotaExceededError     429 insufficient_quota
    └── ServerError (5xx)
        ├── EngineError                500 (a local model failed)
        ├── UpstreamError              502
        ├── UpstreamUnavailableError   503
        ├── ServiceUnavailableError    503 (draining, database unreachable)
        └── UpstreamTimeoutError       504

Code below `api/` raises these; nothing returns errors as values.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ThinkgateError(Exception):
    """Base: carries the HTTP status and the OpenAI `type`/`code`/`param` triple."""

    status_code: ClassVar[int] = 500
    error_type: ClassVar[str] = "server_error"
    default_code: ClassVar[str | None] = None

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code if code is not None else self.default_code

    def to_body(self) -> dict[str, Any]:
        """The `{"error": {...}}` body every OpenAI client understands."""
        return {"error": self.to_payload()}

    def to_payload(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "type": self.error_type,
            "param": self.param,
            "code": self.code,
        }


class ClientError(ThinkgateError):
    status_code = 400
    error_type = "invalid_request_error"


class InvalidRequestError(ClientError):
    status_code = 400


class AuthenticationError(ClientError):
    status_code = 401
    default_code = "invalid_api_key"


class PermissionDeniedError(ClientError):
    status_code = 403


class NotFoundError(ClientError):
    status_code = 404


class ConflictError(ClientError):
    status_code = 409


class PayloadTooLargeError(ClientError):
    status_code = 413


class HeadersTooLargeError(ClientError):
    status_code = 431


class RateLimitError(ClientError):
    status_code = 429
    error_type = "rate_limit_exceeded"
    default_code = "rate_limit_exceeded"

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        retry_after_s: int | None = None,
    ) -> None:
        super().__init__(message, param=param, code=code)
        self.retry_after_s = retry_after_s  # when a retry may pass (None: not known)


class QuotaExceededError(RateLimitError):
    """OpenAI's answer when the money runs out: 429 `insufficient_quota` (a key's budget)."""

    error_type = "insufficient_quota"
    default_code = "insufficient_quota"


class ServerError(ThinkgateError):
    status_code = 500
    error_type = "server_error"
    default_code = "server_error"


class EngineError(ServerError):
    status_code = 500


class UpstreamError(ServerError):
    status_code = 502


class UpstreamTimeoutError(ServerError):
    status_code = 504
    default_code = "timeout"


class UpstreamUnavailableError(ServerError):
    """Every upstream channel is cooling down, open-circuited or rate-limited."""

    status_code = 503
    default_code = "service_unavailable"


class ServiceUnavailableError(ServerError):
    """The server cannot take this request now (shutting down, database unreachable): a
    retry later, or on another replica, may succeed."""

    status_code = 503
    default_code = "service_unavailable"


def model_not_found(model: str) -> NotFoundError:
    return NotFoundError(
        f"The model `{model}` does not exist or you do not have access to it.",
        param="model",
        code="model_not_found",
    )
