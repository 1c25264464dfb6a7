"""Redis stopped and started under load, in both outage modes, on two replicas sharing one
PostgreSQL: no budget overshoot, no lost ledger row, the state in /readyz and /metrics.
Then PostgreSQL stopped and started: 503 `database_unavailable`, /readyz says so, recovery.

Redis and PostgreSQL here are the test's own (stopped and started on their own ports), never
the shared ones of scripts/test-services.sh.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.support.config import channel, server_config
from tests.support.gateway_support import PEPPER, Gateway, admin_http
from tests.support.private_pg import PrivatePostgres
from tests.support.server import ADMIN_KEY, ServerProcess, free_port
from tests.support.upstreams import UpstreamProcess, start_standin

# A stand-in upstream answers at once with a fixed usage (42 input tokens, 32 of them
# cached, 9 output): each request costs $0.0000852; its worst case (reserved) is under
# WORST, so a budget of BUDGET serves about eleven.
ASK: dict[str, Any] = {"model": "fast", "input": "Say hello.", "max_output_tokens": 16}
BUDGET = Decimal("0.001")
WORST = Decimal("0.0002")


def _config(url: str) -> str:
    return server_config(
        channel("standin", url, {"fast": "ok:fast"}),
    )


class PrivateRedis:
    """A redis-server of this test's own, stopped (SIGTERM) and started on one port.
    `persist`: with an append-only file, so it comes back with its data; else empty."""

    def __init__(self, *, persist: bool) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("no redis-server (scripts/test-services.sh installs it)")
        self.binary = binary
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="thinkgate-redis-"))
        self.persist = persist
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        aof = ["--appendonly", "yes", "--appendfsync", "always"] if self.persist else []
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        command += ["--dir", str(self.dir), *(aof or ["--appendonly", "no"])]
        log = (self.dir / "redis.log").open("ab")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(redis.RedisError), redis.Redis(port=self.port) as client:
                if client.ping():
                    return
            time.sleep(0.1)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@dataclass
class Cluster:
    redis: PrivateRedis
    replicas: list[Gateway]
    mode: str
    env: dict[str, str]
    config: Path
    root: Path


@dataclass
class Load:
    """Requests sent round the replicas by two threads until stopped: what each got."""

    replicas: list[Gateway]
    secret: str
    outcomes: list[tuple[int, str, str]] = field(default_factory=list)  # (status, code, id)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self, worker: int) -> None:
        with httpx.Client(timeout=120) as http:
            turn = worker
            while not self.stop.is_set():
                base = self.replicas[turn % len(self.replicas)].base_url
                turn += 1
                reply = http.post(
                    f"{base}/v1/responses",
                    json=ASK,
                    headers={"Authorization": f"Bearer {self.secret}"},
                )
                body = reply.json()
                code = body["id"] if reply.status_code == 200 else body["error"]["code"]
                assert reply.status_code in (200, 429, 503), reply.text  # never a 500
                self.outcomes.append((reply.status_code, str(code), str(body.get("id", ""))))
                time.sleep(0.1)  # about ten a second: the budget lasts through the outage

    def count(self, status: int, code: str | None = None) -> int:
        return sum(1 for s, c, _ in self.outcomes if s == status and (code is None or c == code))

    def wait_for(self, status: int, n: int, code: str | None = None, within: float = 60) -> None:
        deadline = time.monotonic() + within
        while self.count(status, code) < n:
            assert time.monotonic() < deadline, f"waited for {n} × {status} {code}: {self.outcomes}"
            time.sleep(0.05)


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivatePostgres]:
    pg = PrivatePostgres()
    try:
        yield pg
    finally:
        pg.remove()


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpstreamProcess]:
    process = start_standin(tmp_path_factory.mktemp("outage-standin"))
    try:
        yield process
    finally:
        process.stop()


def _cluster(
    database: PrivatePostgres, standin: UpstreamProcess, root: Path, mode: str, *, persist: bool
) -> Iterator[Cluster]:
    redis = PrivateRedis(persist=persist)
    config = root / "thinkgate.toml"
    config.write_text(_config(standin.base_url))
    env = {
        "THINKGATE_DATABASE_URL": database.url,
        "THINKGATE_REDIS_URL": redis.url,
        "THINKGATE_KEY_PEPPER": PEPPER,
        "THINKGATE_REDIS_OUTAGE": mode,
        "THINKGATE_REDIS_OUTAGE_REPLICAS": "2",
    }
    processes: list[ServerProcess] = []
    clients: list[httpx.Client] = []
    try:
        for name in ("a", "b"):
            (root / name).mkdir()
            data = root / name / "data"
            processes.append(ServerProcess(data, config=config, extra_env=env))
        clients = [admin_http(p.base_url) for p in processes]
        gateways = [Gateway(p.base_url, c) for p, c in zip(processes, clients, strict=True)]
        yield Cluster(redis, gateways, mode, env, config, root)
    finally:
        for client in clients:
            client.close()
        for process in processes:
            process.stop()
        redis.remove()


@pytest.fixture(scope="module", params=["fail_closed", "per_replica"])
def cluster(
    request: pytest.FixtureRequest,
    database: PrivatePostgres,
    standin: UpstreamProcess,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Cluster]:
    # fail_closed: Redis comes back empty (a new epoch: counters re-seeded from the ledger);
    # per_replica: it comes back with its data (the changes made meanwhile replayed)
    mode = str(request.param)
    root = tmp_path_factory.mktemp(f"outage-{mode}")
    yield from _cluster(database, standin, root, mode, persist=mode == "per_replica")


def _readyz(gateway: Gateway) -> dict[str, Any]:
    reply = httpx.get(f"{gateway.base_url}/readyz", timeout=30)
    return {"status_code": reply.status_code, **reply.json()}


def _metric(gateway: Gateway, line_start: str) -> float:
    text = gateway.admin.get("/metrics").text
    for line in text.splitlines():
        if line.startswith(line_start + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{line_start} not in /metrics")


def _wait_state(gateway: Gateway, state: str, within: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        ready = _readyz(gateway)
        if ready.get("shared_counters", {}).get("state") == state:
            return ready
        assert time.monotonic() < deadline, ready
        time.sleep(0.1)


def test_redis_stopped_and_started_under_load(cluster: Cluster) -> None:
    a, b = cluster.replicas
    key_id, secret = a.key(budget_usd=str(BUDGET))
    _, limited = a.key(rpm=100)
    load = Load([a, b], secret)
    threads = [threading.Thread(target=load.run, args=(n,), daemon=True) for n in range(2)]
    for thread in threads:
        thread.start()
    try:
        load.wait_for(200, 2)
        before_stop = len(load.outcomes)
        cluster.redis.stop()  # SIGTERM, with requests in flight
        for replica in (a, b):
            ready = _wait_state(replica, cluster.mode)
            assert ready["status_code"] == 200 and ready["status"] == "degraded"
            assert ready["shared_counters"]["redis_outage"] == cluster.mode
            assert _metric(replica, f'thinkgate_shared_counters_state{{state="{cluster.mode}"}}')
        during = len(load.outcomes)
        time.sleep(2.5)  # keep driving through the outage
        outage = load.outcomes[during:]
        assert outage, "no request completed during the outage"
        rate_limited = httpx.post(
            f"{a.base_url}/v1/responses",
            json=ASK,
            headers={"Authorization": f"Bearer {limited}"},
            timeout=120,
        )
        if cluster.mode == "fail_closed":
            assert {code for _, code, _ in outage} == {"shared_counters_unavailable"}
            assert rate_limited.status_code == 503
            assert rate_limited.json()["error"]["code"] == "shared_counters_unavailable"
            assert _metric(a, "thinkgate_shared_counters_refused_total") >= 1
        else:
            counted_alone = load.outcomes[before_stop:]
            assert any(status == 200 for status, _, _ in counted_alone), counted_alone
            assert rate_limited.status_code == 200  # counted here: 100 // 2 a minute
            assert _metric(a, "thinkgate_shared_counters_per_replica_decisions_total") >= 1
        cluster.redis.start()  # on the same port
        for replica in (a, b):
            ready = _wait_state(replica, "shared")
            assert ready["status"] == "ready" and ready["checks"]["redis"]["ok"]
            assert _metric(replica, "thinkgate_shared_counters_outages_total") >= 1
            assert _metric(replica, 'thinkgate_shared_counters_state{state="shared"}') == 1
        load.wait_for(429, 4, "insufficient_quota")  # driven until the budget is spent
    finally:
        load.stop.set()
        for thread in threads:
            thread.join(timeout=120)
    # two workers: a 429 may have met the other's reservation in flight, so spend what is left
    # one request at a time: a lone request is refused only below its own worst case
    _spend_alone(load, a)
    served = [rid for status, _, rid in load.outcomes if status == 200]
    rows = a.ledger(key_id, wait_for=len(served))
    billed = {row["request_id"] for row in rows if Decimal(row["cost_usd"]) > 0}
    assert billed == set(served)  # every answer has its ledger row, nothing else is billed
    spend = Decimal(a.show(key_id)["spend_usd"])
    assert spend == sum(Decimal(row["cost_usd"]) for row in rows)
    assert spend <= BUDGET, f"overshoot: {spend} > {BUDGET} ({len(served)} served)"
    # and none held back for ever: what the outage left reserved was put right, but for
    # calls cut off mid-reply when Redis went (resolved to the safe side, and counted)
    uncertain = sum(_metric(r, "thinkgate_shared_counters_uncertain_total") for r in (a, b))
    assert BUDGET - spend < WORST * (1 + int(uncertain)), f"{spend} of {BUDGET} spent"
    if cluster.mode == "fail_closed":
        assert _metric(a, "thinkgate_shared_counters_new_epochs_total") >= 1  # came back empty


def _spend_alone(load: Load, gateway: Gateway) -> None:
    with httpx.Client(timeout=120) as http:
        for _ in range(20):
            reply = http.post(
                f"{gateway.base_url}/v1/responses",
                json=ASK,
                headers={"Authorization": f"Bearer {load.secret}"},
            )
            body = reply.json()
            assert reply.status_code in (200, 429), reply.text
            if reply.status_code == 429:
                assert body["error"]["code"] == "insufficient_quota", body
                return
            load.outcomes.append((200, str(body["id"]), str(body["id"])))
    raise AssertionError("the budget was never spent")


def test_a_replica_started_while_redis_is_down(cluster: Cluster) -> None:
    """It starts (no crash, no silent per-replica counting), says so, and attaches once
    Redis answers."""
    if cluster.mode != "fail_closed":
        pytest.skip("one mode is enough: the start-up path is the same")
    a, _ = cluster.replicas
    _, secret = a.key(budget_usd="1")
    cluster.redis.stop()
    late = None
    try:
        (cluster.root / "late").mkdir()
        data = cluster.root / "late" / "data"
        late = ServerProcess(data, config=cluster.config, extra_env=cluster.env)
        with admin_http(late.base_url) as http:
            gateway = Gateway(late.base_url, http)
            ready = _wait_state(gateway, "fail_closed")
            assert ready["status"] == "degraded"
            refused = httpx.post(
                f"{late.base_url}/v1/responses",
                json=ASK,
                headers={"Authorization": f"Bearer {secret}"},
                timeout=60,
            )
            assert refused.status_code == 503, refused.text
            assert refused.json()["error"]["code"] == "shared_counters_unavailable"
            cluster.redis.start()
            _wait_state(gateway, "shared")
            served = gateway.sdk(secret).responses.create(**ASK)
            assert served.status == "completed"
    finally:
        if cluster.redis.process is None or cluster.redis.process.poll() is not None:
            cluster.redis.start()
        if late is not None:
            late.stop()


def test_postgres_stopped_and_started(cluster: Cluster, database: PrivatePostgres) -> None:
    if cluster.mode != "fail_closed":
        pytest.skip("the database outage is the same in both modes: run once")
    a, _ = cluster.replicas
    database.stop()
    try:
        reply = a.admin.get("/admin/v1/keys")  # needs the database
        assert reply.status_code == 503, reply.text
        assert reply.json()["error"]["code"] == "database_unavailable"
        ready = _readyz(a)
        assert ready["status_code"] == 503 and not ready["checks"]["database"]["ok"]
    finally:
        database.start()
    deadline = time.monotonic() + 30
    while _readyz(a)["status_code"] != 200:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert a.sdk(ADMIN_KEY).responses.create(**ASK).status == "completed"
