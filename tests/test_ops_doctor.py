"""`thinkgate doctor`: a working install passes every check (exit 0); a broken one gets a
row naming each problem and exit 1."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from tests.server import free_port
from tests.upstreams import UpstreamProcess
from thinkgate.store.database import Database


def doctor(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("THINKGATE_")}
    return subprocess.run(
        [sys.executable, "-m", "thinkgate", "doctor", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_a_working_install_passes(tmp_path: Path, standin: UpstreamProcess) -> None:
    data = tmp_path / "data"
    data.mkdir()
    database = Database(f"sqlite+aiosqlite:///{data / 'thinkgate.db'}")

    async def migrate() -> None:
        await database.migrate()
        await database.aclose()

    asyncio.run(migrate())
    config = tmp_path / "thinkgate.toml"
    config.write_text(
        "[[channels]]\n"
        'name = "standin"\n'
        'kind = "openai-chat"\n'
        f'base_url = "{standin.base_url}/v1"\n'
        'models = { "gpt-5.1-up" = "ok:doctor" }\n'
    )
    result = doctor("--data-dir", str(data), "--config", str(config), "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    checks = {row["check"]: row for row in json.loads(result.stdout)}
    assert all(row["ok"] for row in checks.values()), checks
    names = set(checks)
    assert {"engine", "cpu", "data dir", "database", "migrations"} <= names
    assert "model smollm2-135m-instruct" in names
    assert any(name.startswith("channel standin: gpt-5.1-up") for name in names)
    assert checks["migrations"]["detail"].startswith("at head")


def test_a_broken_install_lists_each_problem(tmp_path: Path) -> None:
    dead = free_port()  # nothing listens there
    config = tmp_path / "broken.toml"
    config.write_text(
        f'database_url = "postgresql+asyncpg://postgres@127.0.0.1:{dead}/thinkgate"\n'
        f'redis_url = "redis://127.0.0.1:{dead}/0"\n'
        "[[local_models]]\n"
        'name = "gone"\n'
        f'path = "{tmp_path / "missing.gguf"}"\n'
        "[[channels]]\n"
        'name = "nowhere"\n'
        'kind = "openai-chat"\n'
        f'base_url = "http://127.0.0.1:{dead}/v1"\n'
        'models = { "gpt-5.1-up" = "x" }\n'
        "timeouts = { connect = 2, first_byte = 3 }\n"
    )
    result = doctor("--data-dir", str(tmp_path / "data"), "--config", str(config))
    assert result.returncode == 1, result.stdout + result.stderr
    table = result.stdout
    for row in ("model gone", "database", "migrations", "redis", "channel nowhere"):
        line = next((line for line in table.splitlines() if row in line), "")
        assert "FAILED" in line, f"{row!r} not reported as failed:\n{table}"
    assert "model smollm2-135m-instruct" in table  # the working parts are listed too
    assert "problem(s)" in table
