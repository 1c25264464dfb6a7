"""`thinkgate doctor`: a working install passes every check (exit 0); a broken one gets a
row naming each problem and exit 1."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.config import channel, write_config
from tests.support.server import free_port
from tests.support.upstreams import UpstreamProcess
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
    config = write_config(
        tmp_path / "thinkgate.toml",
        channel("standin", standin.base_url, {"gpt-5.1-up": "ok:doctor"}),
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
    nowhere = f"http://127.0.0.1:{dead}"
    config = write_config(
        tmp_path / "broken.toml",
        channel("nowhere", nowhere, {"gpt-5.1-up": "x"}, timeouts={"connect": 2, "first_byte": 3}),
        database_url=f"postgresql+asyncpg://postgres@127.0.0.1:{dead}/thinkgate",
        redis_url=f"redis://127.0.0.1:{dead}/0",
        local_models=[{"name": "gone", "path": str(tmp_path / "missing.gguf")}],
    )
    result = doctor("--data-dir", str(tmp_path / "data"), "--config", str(config))
    assert result.returncode == 1, result.stdout + result.stderr
    table = result.stdout
    for row in ("model gone", "database", "migrations", "redis", "channel nowhere"):
        line = next((line for line in table.splitlines() if row in line), "")
        assert "FAILED" in line, f"{row!r} not reported as failed:\n{table}"
    assert "model smollm2-135m-instruct" in table  # the working parts are listed too
    assert "problem(s)" in table
