"""A key revoked while it is being used is refused as soon as the revocation returns, on
every replica, every time (issue 26, hole 3).

Each trial makes a key, has a dozen clients use it as fast as they can, revokes it while
they do and then counts the requests *sent after the revocation returned* that were let
through: there must be none, in any trial. The race this guards against: a lookup of the
key in the database that read the row before the revocation committed must not put the key
back into a replica's cache. Run on SQLite (one server), then on PostgreSQL + Redis with
two replicas, revoking through the admin API of one while both are used, through the CLI
(a process of its own, announcing through Redis), and with one replica's Redis subscription
cut just before the revocation (it misses the announcement).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import redis

from tests.support.gateway_support import Gateway, admin_http, services, shared_env
from tests.support.server import ADMIN_KEY, ServerProcess

TRIALS = 10
CONCURRENCY = 12  # clients using the key at once, spread over the replicas
WARM_UP = 2 * CONCURRENCY  # requests answered before the revocation starts
AFTER = 6  # requests each client sends once the revocation has returned

Revoke = Callable[[str], Awaitable[None]]


@dataclass
class Trial:
    """What the clients of one trial saw."""

    secret: str
    warm: asyncio.Event = field(default_factory=asyncio.Event)
    answered: int = 0
    returned_at: float | None = None  # time.monotonic() when the revocation returned
    late_ok: list[str] = field(default_factory=list)  # 200s sent after it returned
    unexpected: list[str] = field(default_factory=list)


async def _use(trial: Trial, client: httpx.AsyncClient) -> None:
    """Use the key until AFTER requests sent after the revocation returned are answered."""
    headers = {"Authorization": f"Bearer {trial.secret}"}
    after = 0
    while after < AFTER:
        sent = time.monotonic()
        reply = await client.get("/v1/models", headers=headers)
        trial.answered += 1
        if trial.answered >= WARM_UP:
            trial.warm.set()
        if reply.status_code not in (200, 401):
            trial.unexpected.append(f"{client.base_url}: {reply.status_code} {reply.text}")
            return
        if trial.returned_at is not None and sent > trial.returned_at:
            after += 1
            if reply.status_code == 200:
                trial.late_ok.append(str(client.base_url))


async def _trial(base_urls: list[str], key_id: str, secret: str, revoke: Revoke) -> list[str]:
    """One trial; what went wrong in it (nothing, when revocation holds)."""
    trial = Trial(secret)
    limits = httpx.Limits(max_connections=CONCURRENCY)
    clients = [httpx.AsyncClient(base_url=url, timeout=120, limits=limits) for url in base_urls]
    try:
        users = [
            asyncio.create_task(_use(trial, clients[n % len(clients)])) for n in range(CONCURRENCY)
        ]
        await asyncio.wait_for(trial.warm.wait(), 120)
        await revoke(key_id)
        trial.returned_at = time.monotonic()
        await asyncio.gather(*users)
        for client in clients:  # and long after: still refused
            reply = await client.get("/v1/models", headers={"Authorization": f"Bearer {secret}"})
            if reply.status_code != 401:
                trial.late_ok.append(f"{client.base_url} (after all others)")
    finally:
        for client in clients:
            await client.aclose()
    problems = list(trial.unexpected)
    if trial.late_ok:
        problems.append(f"{len(trial.late_ok)} requests let through: {sorted(set(trial.late_ok))}")
    return problems


def _run_trials(replicas: list[Gateway], revoke: Revoke, trials: int = TRIALS) -> list[str]:
    """The trials; the secrets of the keys they revoked."""
    failed: list[str] = []
    secrets: list[str] = []
    for number in range(trials):
        key_id, secret = replicas[0].key()  # made on the first replica, cached there only
        secrets.append(secret)
        problems = asyncio.run(_trial([r.base_url for r in replicas], key_id, secret, revoke))
        if problems:
            named = "; ".join(problems)
            for index, replica in enumerate(replicas):
                named = named.replace(replica.base_url, f"replica {'AB'[index]}")
            failed.append(f"trial {number + 1}: {named}")
    assert not failed, f"a revoked key was accepted in {len(failed)} of {trials} trials:\n" + (
        "\n".join(failed)
    )
    return secrets


def _api_revoke(base_url: str) -> Revoke:
    async def revoke(key_id: str) -> None:
        headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=120) as admin:
            reply = await admin.delete(f"/admin/v1/keys/{key_id}")
        assert reply.status_code == 200, reply.text

    return revoke


def test_revoked_mid_flight_is_refused_at_once_sqlite(server: ServerProcess) -> None:
    with admin_http(server.base_url) as http:
        replica = Gateway(server.base_url, http)
        _run_trials([replica], _api_revoke(server.base_url))


@dataclass
class Replicas:
    gateways: list[Gateway]
    processes: list[ServerProcess]
    env: dict[str, str]


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    env = shared_env(services())
    first = ServerProcess(tmp_path_factory.mktemp("revoke-a") / "data", extra_env=env)
    second = None
    try:
        second = ServerProcess(tmp_path_factory.mktemp("revoke-b") / "data", extra_env=env)
        with admin_http(first.base_url) as a, admin_http(second.base_url) as b:
            gateways = [Gateway(first.base_url, a), Gateway(second.base_url, b)]
            yield Replicas(gateways, [first, second], env)
    finally:
        first.stop()
        if second is not None:
            second.stop()


def test_revoked_mid_flight_is_refused_by_both_replicas(replicas: Replicas) -> None:
    _run_trials(replicas.gateways, _api_revoke(replicas.gateways[0].base_url), trials=20)


def test_revoked_through_the_cli_is_refused_by_both_replicas(
    replicas: Replicas, tmp_path: Path
) -> None:
    """The CLI writes the database and announces through Redis, like the admin API."""

    async def revoke(key_id: str) -> None:
        command = [sys.executable, "-m", "thinkgate", "keys", "revoke", key_id]
        process = await asyncio.create_subprocess_exec(
            *command,
            "--data-dir",
            str(tmp_path / "cli"),
            env={**_without_thinkgate(os.environ), **replicas.env},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await process.communicate()
        assert process.returncode == 0, output.decode(errors="replace")

    _run_trials(replicas.gateways, revoke, trials=2)  # the race is the API tests' job


def test_a_replica_that_lost_redis_refuses_a_key_revoked_meanwhile(replicas: Replicas) -> None:
    """B's subscription is cut just before each revocation, so B misses the announcement:
    until it has subscribed again and reloaded its keys, it must not trust its cache."""
    a, b = replicas.gateways
    redis_url = replicas.env["THINKGATE_REDIS_URL"]
    revoke_on_a = _api_revoke(a.base_url)

    async def revoke(key_id: str) -> None:
        await asyncio.to_thread(_cut_subscription, replicas.processes[1], redis_url)
        await revoke_on_a(key_id)

    secrets = _run_trials(replicas.gateways, revoke, trials=4)
    _subscriber_of(replicas.processes[1], redis_url)  # B listens again
    for gateway in (a, b):
        for secret in secrets:  # and B's reload did not bring any of them back
            reply = httpx.get(
                f"{gateway.base_url}/v1/models", headers={"Authorization": f"Bearer {secret}"}
            )
            assert reply.status_code == 401, (gateway.base_url, reply.status_code)


def _cut_subscription(process: ServerProcess, redis_url: str) -> None:
    """Close the server's Redis subscription from the Redis side (CLIENT KILL)."""
    client_id = _subscriber_of(process, redis_url)
    with redis.Redis.from_url(redis_url) as client:
        assert client.client_kill_filter(_id=str(client_id)) == 1


def _subscriber_of(process: ServerProcess, redis_url: str) -> int:
    """Redis's id for the server's subscription (matched by the sockets the process
    holds), waiting for one: a server subscribes again a second after losing it."""
    deadline = time.monotonic() + 60
    with redis.Redis.from_url(redis_url) as client:
        while True:
            ports = _local_ports(process.process.pid)
            for entry in client.client_list(_type="pubsub"):
                if int(entry["addr"].rsplit(":", 1)[1]) in ports:
                    return int(entry["id"])
            assert time.monotonic() < deadline, "the server did not subscribe again"
            time.sleep(0.05)


def _local_ports(pid: int) -> set[int]:
    """The local TCP ports of a process's sockets (/proc: its fds' inodes, the TCP tables)."""
    inodes: set[str] = set()
    for descriptor in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(descriptor)
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    ports: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def _without_thinkgate(environ: os._Environ[str]) -> dict[str, str]:
    return {k: v for k, v in environ.items() if not k.startswith("THINKGATE_")}
