"""The access log's direct lines (`ops.logs.write_line`) read exactly as the configured
formatter writes the same record, and step aside whenever a record would go elsewhere."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from thinkgate.ops import logs

FIELDS = {
    "request_id": "req_abc",
    "method": "POST",
    "path": "/v1/chat/completions",
    "status": 200,
    "latency_ms": 1.25,
    "ttfb_ms": None,
    "model": "gpt-5.1",
    "key_id": "key_1",
    "client": "127.0.0.1",
}
MESSAGE = "POST /v1/chat/completions 200"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logs._line_handler = None


def _configured(fmt: logs.LogFormat) -> tuple[logging.Logger, io.StringIO]:
    logs.configure_logging(fmt, "info")
    stream = io.StringIO()
    assert logs._line_handler is not None
    logs._line_handler.setStream(stream)
    return logging.getLogger(logs.ACCESS_LOGGER), stream


def _through_logging(logger: logging.Logger) -> None:
    record = logging.LogRecord(logger.name, logging.INFO, __file__, 0, MESSAGE, (), None)
    record.__dict__.update(FIELDS)
    logger.handle(record)


@pytest.mark.parametrize("fmt", ["plain", "json"])
def test_a_direct_line_reads_as_the_formatted_record(
    fmt: logs.LogFormat, restore_logging: None
) -> None:
    logger, stream = _configured(fmt)
    assert logs.write_line(logger, logging.INFO, MESSAGE, FIELDS)
    _through_logging(logger)
    direct, formatted = stream.getvalue().splitlines()
    # the same line, up to the millisecond in the timestamp
    cut = 27 if fmt == "json" else 30
    assert direct[:cut] == formatted[:cut] and direct[cut + 3 :] == formatted[cut + 3 :]
    assert "req_abc" in direct and "key_id" in direct


def test_records_that_would_go_elsewhere_take_the_ordinary_path(restore_logging: None) -> None:
    logger, stream = _configured("plain")
    captured: list[logging.LogRecord] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            captured.append(record)

    extra = Capture()
    logging.getLogger().addHandler(extra)  # a second handler (a test's capture, a collector)
    assert not logs.write_line(logger, logging.INFO, MESSAGE, FIELDS)
    logging.getLogger().removeHandler(extra)

    logger.addFilter(lambda record: False)  # a filter the line would skip
    try:
        assert not logs.write_line(logger, logging.INFO, MESSAGE, FIELDS)
    finally:
        logger.filters.clear()
    assert not logs.write_line(logger, logging.DEBUG, MESSAGE, FIELDS)  # below the handler
    assert stream.getvalue() == "" and not captured
