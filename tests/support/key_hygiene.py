"""Key hygiene across the whole test run: at session end, every thinkgate server log the
run wrote is searched for API key material (`sk-` and the secret part); one hit fails
the run. Masked forms (`sk-***abcd`) and display prefixes (`sk-tg-abcd`) are too short
to match."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

KEY_MATERIAL = re.compile(rb"sk-[A-Za-z0-9_-]{20,}")


def leaked_keys(root: Path, pattern: str = "server-*.log") -> list[str]:
    """`file:line: sk-xx…` for every key found in a server log under `root` (shown masked)."""
    hits = []
    for log in sorted(root.rglob(pattern)):
        for number, line in enumerate(log.read_bytes().splitlines(), start=1):
            for match in KEY_MATERIAL.finditer(line):
                shown = match.group().decode(errors="replace")
                hits.append(f"{log}:{number}: {shown[:5]}…{shown[-2:]}")
    return hits


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is None:
        return
    try:
        root = factory.getbasetemp()
    except OSError:
        return
    hits = leaked_keys(root)
    if not hits:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_sep("=", "API keys found in server logs", red=True)
        for hit in hits[:50]:
            reporter.write_line(hit)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
