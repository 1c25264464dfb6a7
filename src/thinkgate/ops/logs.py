"""Logging set-up: one line per record, JSON (for collectors) or plain (for people), each
carrying the id of the request it belongs to.

The request id lives in a context variable set by the access middleware, so a record
logged anywhere below a request (pipeline, backend, ledger) is tagged without passing it.

The access log writes one line per request. `write_line()` formats it the way the
configured formatter would and writes it to the handler's stream directly, skipping the
record, filters and handler walk of `logging` (a tenth of a proxied request's time, bench/
overhead), whenever the line would go to that handler alone; anything else (other
handlers, filters, a test's capture) gets an ordinary record.
"""

from __future__ import annotations

import contextvars
import logging
import sys
import time
from typing import Any, Literal

import orjson

LogFormat = Literal["json", "plain"]

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "thinkgate_request_id", default=None
)

_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}
ACCESS_LOGGER = "thinkgate.access"


class JsonFormatter(logging.Formatter):
    """`{"ts", "level", "logger", "msg", "request_id", ...extra}` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        extras = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        exc = self.formatException(record.exc_info) if record.exc_info else None
        return self._render(
            record.created, record.levelname, record.name, record.getMessage(), extras, exc
        )

    def line(self, level: int, name: str, message: str, fields: dict[str, Any]) -> str:
        """What `format` makes of a record (no exception) carrying `fields` as extras."""
        levelname = logging.getLevelName(level)
        return self._render(time.time(), levelname, name, message, dict(fields), None)

    @staticmethod
    def _render(
        created: float,
        levelname: str,
        name: str,
        message: str,
        extras: dict[str, Any],
        exc: str | None,
    ) -> str:
        entry: dict[str, Any] = {
            "ts": _timestamp(created),
            "level": levelname.lower(),
            "logger": name,
            "msg": message,
        }
        request_id = extras.pop("request_id", None) or request_id_var.get()
        if request_id is not None:
            entry["request_id"] = request_id
        for key, value in extras.items():
            entry.setdefault(key, value)
        if exc is not None:
            entry["exc"] = exc
        return orjson.dumps(entry, default=str).decode()


class PlainFormatter(logging.Formatter):
    """`time level logger [request id] message key=value...`."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")
        self._second: tuple[int, str] = (-1, "")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """The default's text, with one `strftime` a second (the access log calls this on
        every request)."""
        return self._asctime(record.created)

    def _asctime(self, created: float) -> str:
        whole = int(created)
        if self._second[0] != whole:
            self._second = (whole, time.strftime("%Y-%m-%d %H:%M:%S", self.converter(whole)))
        return f"{self._second[1]},{int((created - whole) * 1000):03d}"

    def format(self, record: logging.LogRecord) -> str:
        head, _, tail = super().format(record).partition("\n")  # a traceback stays below
        extras = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        text = _with_extras(head, extras)
        return text + (f"\n{tail}" if tail else "")

    def line(self, level: int, name: str, message: str, fields: dict[str, Any]) -> str:
        """What `format` makes of a record (no exception) carrying `fields` as extras."""
        levelname = logging.getLevelName(level)
        head = f"{self._asctime(time.time())} {levelname} {name} {message}"
        return _with_extras(head, fields)


def _with_extras(head: str, extras: dict[str, Any]) -> str:
    """`[request id] head key=value...` (the id from the extras or the context)."""
    request_id = extras.get("request_id") or request_id_var.get()
    prefix = f"[{request_id}] " if request_id else ""
    pairs = " ".join([f"{k}={v}" for k, v in extras.items() if k != "request_id"])
    return f"{prefix}{head} {pairs}" if pairs else f"{prefix}{head}"


class LineHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The stderr handler, which also takes ready lines (`write_line`)."""

    def write(self, line: str) -> None:
        with self.lock:  # type: ignore[union-attr]  # made in Handler.__init__
            self.stream.write(line + self.terminator)
            self.stream.flush()


_line_handler: LineHandler | None = None  # the one configure_logging() installed


def write_line(logger: logging.Logger, level: int, message: str, fields: dict[str, Any]) -> bool:
    """Log `message` with `fields` (as `extra`) straight to the configured handler, when a
    record would reach that handler alone; False (nothing written) otherwise."""
    handler = _line_handler
    if handler is None or logger.filters or handler.filters or level < handler.level:
        return False
    if not logger.isEnabledFor(level):
        return False
    node: logging.Logger | None = logger
    while node is not None and node.parent is not None:  # up to the root
        if node.handlers or not node.propagate:
            return False
        node = node.parent
    if node is None or len(node.handlers) != 1 or node.handlers[0] is not handler:
        return False
    if node.filters:
        return False
    formatter = handler.formatter
    if not isinstance(formatter, JsonFormatter | PlainFormatter):
        return False  # someone set another formatter: only it knows its lines
    try:
        handler.write(formatter.line(level, logger.name, message, fields))
    except Exception:
        return False  # the ordinary path reports it
    return True


def configure_logging(fmt: LogFormat, level: str) -> None:
    """Route thinkgate's and uvicorn's loggers through one stderr handler in `fmt`."""
    global _line_handler
    handler = _line_handler = LineHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else PlainFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        named = logging.getLogger(name)
        named.handlers[:] = []
        named.propagate = True
    # uvicorn's own access log is replaced by ours (it has no request id, model or key).
    logging.getLogger("uvicorn.access").disabled = True
    # httpx logs every request's URL at INFO: a web search's URL carries the user's query
    # (and a fetched page's URL what they asked about), which the logs must not keep; the
    # MCP SDK's httpx2 likewise (a request-declared server URL may carry a token).
    for name in ("httpx", "httpcore", "httpx2", "httpcore2", "mcp"):
        logging.getLogger(name).setLevel(max(root.level, logging.WARNING))
    # Fields no formatter here prints, each a lookup per record on the request path.
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False


_second: list[Any] = [-1, ""]  # (whole second, its formatted prefix): one strftime a second


def _timestamp(created: float) -> str:
    whole = int(created)
    if _second[0] != whole:
        _second[:] = [whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))]
    return f"{_second[1]}.{int(created % 1 * 1000):03d}Z"
