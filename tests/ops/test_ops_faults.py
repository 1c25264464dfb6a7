"""Faults, and the books afterwards: the database going away for a while (503s, then
recovery), a full disk under the prompt cache (cache skipped, request served), upstream
misbehaviour (one ledger row per admitted request, spend = the rows' sum)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.config import channel, write_config
from tests.support.gateway_support import Gateway, admin_http
from tests.support.private_pg import PrivatePostgres
from tests.support.server import ServerProcess
from tests.support.upstreams import UpstreamProcess

FIRST = {"ok": "ok:f-ok", "flaky": "fail500:f-flaky", "hangs": "hang:f-hangs", "cuts": "cut:f-cuts"}
FIRST |= {"late-garble": "garbled_late:f-lg", "doomed": "fail500:f-doomed"}


def _config(root: Path, standin: UpstreamProcess) -> Path:
    url = standin.base_url
    return write_config(
        root / "thinkgate.toml",
        channel(
            "first", url, FIRST, priority=1, breaker_failures=1000, timeouts={"first_byte": 1.0}
        ),
        channel("second", url, {"flaky": "ok:s-flaky", "hangs": "ok:s-hangs"}, priority=2),
    )


def _post(base: str, key: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        f"{base}/v1/responses",
        json={"max_output_tokens": 64, **body},
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )


def _books(gateway: Gateway, key_id: str, rows: int) -> list[dict[str, Any]]:
    """The key's ledger rows once `rows` are in, checked against the key's spend."""
    ledger = gateway.ledger(key_id, wait_for=rows)
    assert len(ledger) == rows, ledger
    ids = [row["request_id"] for row in ledger]
    assert len(set(ids)) == len(ids)  # settled exactly once each
    spend = Decimal(gateway.show(key_id)["spend_usd"])
    assert spend == sum(Decimal(row["cost_usd"]) for row in ledger)
    return ledger


def test_upstream_faults_leave_one_ledger_row_per_admitted_request(
    tmp_path: Path, standin: UpstreamProcess
) -> None:
    server = ServerProcess(tmp_path / "data", config=_config(tmp_path, standin))
    try:
        with admin_http(server.base_url) as http:
            gateway = Gateway(server.base_url, http)
            key_id, secret = gateway.key(budget_usd="5")
            outcomes = {}
            for model in ("flaky", "hangs", "cuts", "late-garble", "doomed", "ok"):
                for stream in (False, True):
                    reply = _post(
                        server.base_url, secret, {"model": model, "input": "hi", "stream": stream}
                    )
                    outcomes[(model, stream)] = (reply.status_code, reply.text)
            ledger = _books(gateway, key_id, rows=len(outcomes))
    finally:
        server.stop()
    codes = {key: code for key, (code, _) in outcomes.items()}
    for model in ("flaky", "hangs", "ok"):  # failover before the first byte: served
        assert codes[(model, False)] == codes[(model, True)] == 200
    for model in ("cuts", "late-garble"):  # broken after the first byte: failed, not retried
        assert (
            codes[(model, True)] == 200
            and b"response.failed" in outcomes[(model, True)][1].encode()
        )
        assert codes[(model, False)] >= 500 and '"error"' in outcomes[(model, False)][1]
    assert codes[("doomed", False)] == codes[("doomed", True)] == 502
    by_model: dict[str, list[dict[str, Any]]] = {}
    for row in ledger:
        by_model.setdefault(row["model"], []).append(row)
    assert {model: len(rows) for model, rows in by_model.items()} == dict.fromkeys(
        ("flaky", "hangs", "cuts", "late-garble", "doomed", "ok"), 2
    )
    for model in ("flaky", "hangs", "ok"):
        assert all(
            row["status"] == "completed" and row["output_tokens"] == 9 for row in by_model[model]
        )
    for model in ("cuts", "late-garble"):  # what was streamed before the break is billed
        assert all(
            row["status"] == "failed" and row["output_tokens"] > 0 for row in by_model[model]
        )
    assert all(Decimal(row["cost_usd"]) == 0 for row in by_model["doomed"])
    served = {
        text.split('"id":"', 1)[1].split('"', 1)[0]
        for (model, stream), (code, text) in outcomes.items()
        if code == 200
    }
    assert served <= {row["request_id"] for row in ledger}


def test_database_outage_is_a_clean_503_and_recovers(
    tmp_path: Path, standin: UpstreamProcess
) -> None:
    """A private PostgreSQL (never the shared one) stopped under a running server, then
    started again: 503s with OpenAI bodies meanwhile, service afterwards, nothing lost."""
    pg = PrivatePostgres()
    server = None
    try:
        server = ServerProcess(
            tmp_path / "data",
            config=_config(tmp_path, standin),
            extra_env={"THINKGATE_DATABASE_URL": pg.url},
        )
        with admin_http(server.base_url) as http:
            gateway = Gateway(server.base_url, http)
            key_id, secret = gateway.key(budget_usd="5")
            first = _post(server.base_url, secret, {"model": "ok", "input": "before"})
            assert first.status_code == 200, first.text
            stored_id = first.json()["id"]
            pg.stop()
            auth = {"Authorization": f"Bearer {secret}"}
            down = [
                httpx.get(f"{server.base_url}/v1/responses/{stored_id}", headers=auth),
                httpx.get(
                    f"{server.base_url}/v1/models",
                    headers={"Authorization": "Bearer sk-tg-unknown"},
                ),
                http.get("/admin/v1/keys"),
            ]
            for reply in down:
                assert reply.status_code == 503, reply.text
                error = reply.json()["error"]
                assert error["type"] == "server_error" and error["code"] == "database_unavailable"
                assert reply.headers["retry-after"] == "1"
            # a generation that needs no database read is still served; its ledger row waits
            during = _post(
                server.base_url, secret, {"model": "ok", "input": "during", "store": False}
            )
            assert during.status_code in (200, 503), during.text
            # the first answer to be stored finds the database gone (served and billed, its
            # stored copy lost and logged); later `store: true` requests are refused up front
            lost = _post(server.base_url, secret, {"model": "ok", "input": "lost"})
            assert lost.status_code in (200, 503), lost.text
            refused = _post(server.base_url, secret, {"model": "ok", "input": "refused"})
            assert refused.status_code == 503, refused.text
            assert refused.json()["error"]["code"] == "database_unavailable"
            ready = httpx.get(f"{server.base_url}/readyz")
            assert ready.status_code == 503 and not ready.json()["checks"]["database"]["ok"]
            assert httpx.get(f"{server.base_url}/healthz").status_code == 200
            pg.start()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                again = httpx.get(f"{server.base_url}/v1/responses/{stored_id}", headers=auth)
                if again.status_code == 200:
                    break
                time.sleep(0.5)
            assert again.status_code == 200, again.text
            assert httpx.get(f"{server.base_url}/readyz").status_code == 200
            after = _post(server.base_url, secret, {"model": "ok", "input": "after"})
            assert after.status_code == 200, after.text
            served = 2 + (during.status_code == 200) + (lost.status_code == 200)
            ledger = _books(gateway, key_id, rows=served)
            assert {row["status"] for row in ledger} == {"completed"}
        assert "unhandled error" not in server.log()  # no 500 from the outermost guard
    finally:
        if server is not None:
            server.stop()
        pg.remove()


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs as the prompt cache's directory (a SmolLM2 state needs ~1.5 MB)."""
    cache = tmp_path / "data" / "prompt-cache"
    cache.mkdir(parents=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(cache)], capture_output=True
    )
    if mounted.returncode != 0:  # not root: a directory nobody may write has the same effect
        cache.chmod(0o500)
    yield cache
    if mounted.returncode == 0:
        subprocess.run(["umount", "-l", str(cache)], check=False)
    else:
        cache.chmod(0o700)


def test_full_disk_under_the_prompt_cache_serves_uncached(tmp_path: Path, full_disk: Path) -> None:
    server = ServerProcess(tmp_path / "data")
    try:
        with admin_http(server.base_url) as http:
            gateway = Gateway(server.base_url, http)
            key_id, secret = gateway.key()
            prompt = "Here is a list of fruits: " + ", ".join(["apple", "pear", "plum"] * 25)
            body = {
                "model": "gpt-5.1",
                "input": prompt,
                "max_output_tokens": 16,
                "temperature": 0,
                "prompt_cache_key": "disk-full",
                "prompt_cache_retention": "24h",
            }
            replies = [_post(server.base_url, secret, body) for _ in range(2)]
            for reply in replies:
                assert reply.status_code == 200, reply.text
            stats = http.get("/v1/internal/cache").json()
            assert stats["disk_write_errors"] >= 1 and stats["disk_entries"] == 0
            assert stats["hits_ram"] >= 1  # the RAM tier still works
            assert replies[1].json()["usage"]["input_tokens_details"]["cached_tokens"] > 0
            _books(gateway, key_id, rows=2)
        assert [p.name for p in full_disk.iterdir()] == []  # no partial files left behind
    finally:
        server.stop()
