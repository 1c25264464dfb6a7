"""Where every error becomes an OpenAI error body: one handler per family, one guard."""

from __future__ import annotations

import importlib
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from thinkgate.api.json import JSONResponse
from thinkgate.errors import (
    InvalidRequestError,
    NotFoundError,
    ServerError,
    ServiceUnavailableError,
    ThinkgateError,
)
from thinkgate.protocol.parsing import param_path

log = logging.getLogger(__name__)


# The database cannot be reached (down, restarting, network, pool exhausted): a 503 the
# client may retry, not a 500. A constraint violation or bad SQL is still a bug (500).
def _asyncpg_connection_errors() -> tuple[type[Exception], ...]:
    """asyncpg's own connect-time errors ("the database system is starting up"), which can
    reach us unwrapped; looked up by name (asyncpg ships no type information)."""
    try:
        module = importlib.import_module("asyncpg")
    except ImportError:
        return ()
    names = ("PostgresConnectionError", "CannotConnectNowError")
    return tuple(getattr(module, name) for name in names if hasattr(module, name))


DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,
    ConnectionError,
    *_asyncpg_connection_errors(),
)


def error_response(error: ThinkgateError) -> JSONResponse:
    return JSONResponse(error.to_body(), status_code=error.status_code)


async def _on_thinkgate_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ThinkgateError)
    return error_response(exc)


async def _on_validation_error(_request: Request, exc: Exception) -> Response:
    """FastAPI's 422 becomes OpenAI's 400 invalid_request_error (query and path params)."""
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    loc = tuple(part for part in first.get("loc", ()) if part not in {"query", "path", "body"})
    param = param_path(loc) or None
    message = f"Invalid '{param}': {first.get('msg', 'invalid value')}."
    return error_response(InvalidRequestError(message, param=param, code="invalid_value"))


async def _on_http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        return error_response(NotFoundError("Not found: no such route.", code="not_found"))
    if exc.status_code == 405:
        error = InvalidRequestError("Method not allowed for this route.", code="method_not_allowed")
        return JSONResponse(error.to_body(), status_code=405)
    error = InvalidRequestError(str(exc.detail))
    return JSONResponse(error.to_body(), status_code=exc.status_code)


async def _on_client_gone(_request: Request, _exc: Exception) -> Response:
    """The client left while its body was being read: nothing ran, nobody is listening.
    Logged as an ordinary event, not as an unhandled error (nginx's 499)."""
    log.info("client disconnected before its request body was read")
    return Response(status_code=499)


async def _on_database_unavailable(_request: Request, exc: Exception) -> Response:
    log.warning("database unavailable: %s: %s", type(exc).__name__, str(exc).splitlines()[:1])
    error = ServiceUnavailableError(
        "The server's database is unavailable at the moment; please retry shortly.",
        code="database_unavailable",
    )
    return JSONResponse(error.to_body(), status_code=503, headers={"retry-after": "1"})


async def _on_unexpected(_request: Request, exc: Exception) -> Response:
    """The outermost guard: a bug is a 500 server_error, never a traceback on the wire."""
    log.error("unhandled error", exc_info=exc)
    return error_response(ServerError("The server had an error while processing your request."))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ThinkgateError, _on_thinkgate_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(ClientDisconnect, _on_client_gone)
    for database_error in DATABASE_UNAVAILABLE:
        app.add_exception_handler(database_error, _on_database_unavailable)
    app.add_exception_handler(Exception, _on_unexpected)
