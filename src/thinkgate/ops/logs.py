"""Logging set-up: one line per record, JSON (for collectors) or plain (for people), each
carrying the id of the request it belongs to.

The request id lives in a context variable set by the access middleware, so a record
logged anywhere below a request (pipeline, backend, ledger) is tagged without passing it.
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
        entry: dict[str, Any] = {
            "ts": _timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id is not None:
            entry["request_id"] = request_id
        for name, value in record.__dict__.items():
            if name not in _STANDARD and name not in entry:
                entry[name] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class PlainFormatter(logging.Formatter):
    """`time level logger [request id] message key=value...`."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")
        self._second: tuple[int, str] = (-1, "")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """The default's text, with one `strftime` a second (the access log calls this on
        every request)."""
        whole = int(record.created)
        if self._second[0] != whole:
            self._second = (whole, time.strftime("%Y-%m-%d %H:%M:%S", self.converter(whole)))
        return f"{self._second[1]},{int(record.msecs):03d}"

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        extras = [
            f"{k}={v}"
            for k, v in record.__dict__.items()
            if k not in _STANDARD and k != "request_id"
        ]
        prefix = f"[{request_id}] " if request_id else ""
        head, _, tail = line.partition("\n")  # keep a traceback below the first line
        text = f"{prefix}{head}" + (" " + " ".join(extras) if extras else "")
        return text + (f"\n{tail}" if tail else "")


def configure_logging(fmt: LogFormat, level: str) -> None:
    """Route thinkgate's and uvicorn's loggers through one stderr handler in `fmt`."""
    handler = logging.StreamHandler(sys.stderr)
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
    # Fields no formatter here prints, each a lookup per record on the request path.
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False


_second: list[Any] = [-1, ""]  # (whole second, its formatted prefix): one strftime a second


def _timestamp(created: float) -> str:
    whole = int(created)
    if _second[0] != whole:
        _second[:] = [whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))]
    return f"{_second[1]}.{int(created % 1 * 1000):03d}Z"
