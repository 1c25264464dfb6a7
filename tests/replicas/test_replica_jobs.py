"""Three replicas on one PostgreSQL + Redis behind nginx (deploy/compose/nginx.conf):
background jobs survive a replica killed with SIGKILL (taken over only once the lease
lapsed: resumed when nobody saw them, else failed) or stopped with SIGTERM (handed over at
once), survive another replica's restart,
are cancelled and followed through replicas that do not run them, and 200 concurrent
requests never overshoot a shared budget by more than one request's worst case.

Jobs run on a scripted stand-in upstream (`ticksN`: N ticks of 0.1 s) so their length is
known; the lease is 3 s. Who runs a job, and when its lease was last renewed, is read from
the shared database, whose clock decides the lease."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import httpx
import openai
import pytest

from tests.support.config import channel, server_config
from tests.support.gateway_support import Gateway, admin_http
from tests.support.replica_cluster import ReplicaCluster
from tests.support.server import ADMIN_KEY, ServerProcess
from tests.support.upstreams import UpstreamProcess

pytestmark = pytest.mark.timeout(600)

LEASE_SECONDS = 3


def _config(url: str) -> str:
    return server_config(
        channel("standin", url, {"slow": "ticks40:jobs", "quick": "ok:jobs"}),
        pricing={"quick": {"input": "1.00", "cached_input": "0.10", "output": "8.00"}},
    )


HEADERS = {"Authorization": f"Bearer {ADMIN_KEY}"}
UNFINISHED = ("queued", "in_progress")


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, standin: UpstreamProcess
) -> Iterator[ReplicaCluster]:
    root = tmp_path_factory.mktemp("replica-jobs")
    config = root / "thinkgate.toml"
    config.write_text(_config(standin.base_url))
    env = {"THINKGATE_JOB_LEASE_SECONDS": str(LEASE_SECONDS)}
    with ReplicaCluster(root, replicas=3, extra_env=env, config=config) as started:
        yield started


def _query(cluster: ReplicaCluster, sql: str, *args: Any) -> list[dict[str, Any]]:
    import asyncpg

    url = cluster.env["THINKGATE_DATABASE_URL"].replace("postgresql+asyncpg", "postgresql")

    async def run() -> list[dict[str, Any]]:
        connection = await asyncpg.connect(url)
        try:
            return [dict(row) for row in await connection.fetch(sql, *args)]
        finally:
            await connection.close()

    return asyncio.run(run())


def _job(cluster: ReplicaCluster, response_id: str) -> dict[str, Any]:
    """Our row and the queue's (absent once the queue is done with it)."""
    [row] = _query(
        cluster,
        "SELECT j.owner, j.attempts, j.streamed, q.heartbeat, q.status AS queue_status "
        "FROM background_jobs j LEFT JOIN pgqueuer q ON q.id = j.queue_job_id "
        "WHERE j.response_id = $1",
        response_id,
    )
    return row


def _picks(cluster: ReplicaCluster, response_id: str) -> list[Any]:
    """When the queue handed the job to a replica, oldest first (the database's clock)."""
    rows = _query(
        cluster,
        "SELECT l.created FROM pgqueuer_log l JOIN background_jobs j "
        "ON l.job_id = j.queue_job_id WHERE j.response_id = $1 AND l.status = 'picked' "
        "ORDER BY l.created",
        response_id,
    )
    return [row["created"] for row in rows]


def _http(base_url: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, headers=HEADERS, timeout=120)


def _create(base_url: str, **fields: Any) -> dict[str, Any]:
    body = {"model": "slow", "input": "Tick.", "background": True, **fields}
    with _http(base_url) as http:
        reply = http.post("/v1/responses", json=body)
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def _wait(
    base_url: str, response_id: str, until: Callable[[dict[str, Any]], bool], timeout: float = 120
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    with _http(base_url) as http:
        while time.monotonic() < deadline:
            reply = http.get(f"/v1/responses/{response_id}")
            assert reply.status_code == 200, reply.text
            if until(reply.json()):
                return dict(reply.json())
            time.sleep(0.05)
    raise AssertionError(f"{response_id}: not there in {timeout}s")


def _owner(cluster: ReplicaCluster, response_id: str) -> int:
    """Index of the replica running the job (its id is `replica-{i+1}`)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        owner = _job(cluster, response_id)["owner"]
        if owner is not None:
            return int(owner.removeprefix("replica-")) - 1
        time.sleep(0.05)
    raise AssertionError("no replica took the job")


def _follow(base_url: str, response_id: str, after: int, out: list[dict[str, Any]]) -> None:
    params = {"stream": "true", "starting_after": str(after)}
    with httpx.stream(
        "GET", f"{base_url}/v1/responses/{response_id}", params=params, headers=HEADERS, timeout=120
    ) as reply:
        assert reply.status_code == 200
        for line in reply.iter_lines():
            if line.startswith("data: "):
                out.append(json.loads(line[len("data: ") :]))


def _consecutive(events: list[dict[str, Any]], first: int) -> None:
    numbers = [event["sequence_number"] for event in events]
    assert numbers == list(range(first, first + len(numbers))), numbers


def _serves(cluster: ReplicaCluster, times: int = 6) -> None:
    with _http(cluster.base_url) as http:
        for _ in range(times):
            reply = http.post("/v1/responses", json={"model": "quick", "input": "Hi"})
            assert reply.status_code == 200, reply.text
            assert reply.json()["status"] == "completed"


def _lease_lapsed_before_takeover(cluster: ReplicaCluster, response_id: str, beat: Any) -> None:
    """The second pick came at least a lease after the dead owner's last heartbeat."""
    deadline = time.monotonic() + 60
    while len(picks := _picks(cluster, response_id)) < 2:
        assert time.monotonic() < deadline, "the job was never taken over"
        time.sleep(0.1)
    assert (picks[1] - beat).total_seconds() >= LEASE_SECONDS, (picks, beat)


def test_killed_owner_job_resumed_only_after_its_lease(cluster: ReplicaCluster) -> None:
    """Nobody saw any of it: run again from the start on another replica."""
    queued = _create(cluster.base_url)
    _wait(cluster.base_url, queued["id"], lambda r: r["status"] == "in_progress")
    owner = _owner(cluster, queued["id"])
    cluster.kill(owner)
    beat = _job(cluster, queued["id"])["heartbeat"]  # the last: its writer is dead
    try:
        _serves(cluster)  # the others keep serving, through the same nginx
        state = _job(cluster, queued["id"])
        if len(_picks(cluster, queued["id"])) < 2:
            assert state["owner"] == f"replica-{owner + 1}" and state["attempts"] == 1
        done = _wait(cluster.base_url, queued["id"], lambda r: r["status"] not in UNFINISHED)
        assert done["status"] == "completed", done
        assert done["output"][0]["content"][0]["text"].count("tick") == 40  # whole, once
        _lease_lapsed_before_takeover(cluster, queued["id"], beat)
        state = _job(cluster, queued["id"])
        assert state["attempts"] == 2 and state["owner"] != f"replica-{owner + 1}"
    finally:
        cluster.restart(owner)


def test_killed_owner_of_a_streamed_job_fails_it_after_its_lease(cluster: ReplicaCluster) -> None:
    """A client saw part of it: failed, saying why, and the stream ends with that."""
    seen: list[dict[str, Any]] = []
    body = {"model": "slow", "input": "Tick.", "background": True, "stream": True}
    with httpx.stream(
        "POST", f"{cluster.base_url}/v1/responses", json=body, headers=HEADERS, timeout=120
    ) as reply:
        for line in reply.iter_lines():
            if line.startswith("data: "):
                seen.append(json.loads(line[len("data: ") :]))
                if seen[-1]["type"] == "response.output_text.delta":
                    break
    response_id = seen[0]["response"]["id"]
    owner = _owner(cluster, response_id)
    cluster.kill(owner)
    beat = _job(cluster, response_id)["heartbeat"]
    try:
        failed = _wait(cluster.base_url, response_id, lambda r: r["status"] not in UNFINISHED)
        assert failed["status"] == "failed" and failed["error"]["code"] == "server_error"
        assert "streamed" in failed["error"]["message"]
        _lease_lapsed_before_takeover(cluster, response_id, beat)
        rest: list[dict[str, Any]] = []
        _follow(cluster.base_url, response_id, seen[-1]["sequence_number"], rest)
        assert rest[-1]["type"] == "response.failed"
        _consecutive(seen + rest, 0)
    finally:
        cluster.restart(owner)


def test_restart_of_another_replica_leaves_the_job_running(cluster: ReplicaCluster) -> None:
    queued = _create(cluster.base_url)
    _wait(cluster.base_url, queued["id"], lambda r: r["status"] == "in_progress")
    owner = _owner(cluster, queued["id"])
    other = (owner + 1) % 3
    cluster.restart(other)  # its start-up ran while the job ran
    state = _job(cluster, queued["id"])
    assert state["owner"] == f"replica-{owner + 1}" and state["attempts"] == 1
    done = _wait(cluster.base_url, queued["id"], lambda r: r["status"] not in UNFINISHED)
    assert done["status"] == "completed"
    assert _job(cluster, queued["id"])["attempts"] == 1
    assert len(_picks(cluster, queued["id"])) == 1


def test_sigterm_hands_the_job_to_another_replica(cluster: ReplicaCluster) -> None:
    """A rolling restart: the stopping owner gives its job back to the queue; another
    replica runs it again from the start (nobody saw any of it) and completes it."""
    queued = _create(cluster.base_url)
    _wait(cluster.base_url, queued["id"], lambda r: r["status"] == "in_progress")
    owner = _owner(cluster, queued["id"])
    cluster.replicas[owner].stop()  # SIGTERM
    try:
        done = _wait(cluster.base_url, queued["id"], lambda r: r["status"] not in UNFINISHED)
        assert done["status"] == "completed", done
        assert done["output"][0]["content"][0]["text"].count("tick") == 40
        state = _job(cluster, queued["id"])
        assert state["attempts"] == 2 and state["owner"] != f"replica-{owner + 1}"
    finally:
        cluster.restart(owner)


def _others(cluster: ReplicaCluster, owner: int) -> list[ServerProcess]:
    return [replica for index, replica in enumerate(cluster.replicas) if index != owner]


def test_follow_through_replicas_that_do_not_run_the_job(cluster: ReplicaCluster) -> None:
    queued = _create(cluster.base_url)
    owner = _owner(cluster, queued["id"])
    first, second = _others(cluster, owner)
    whole: list[dict[str, Any]] = []
    later: list[dict[str, Any]] = []
    threads = [
        threading.Thread(target=_follow, args=(first.base_url, queued["id"], -1, whole)),
        threading.Thread(target=_follow, args=(second.base_url, queued["id"], 3, later)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    _consecutive(whole, 0)
    assert whole[0]["type"] == "response.created" and whole[-1]["type"] == "response.completed"
    assert later == whole[4:]  # no gap, no duplicate
    with _http(cluster.replicas[owner].base_url) as http:
        stored = http.get(f"/v1/responses/{queued['id']}").json()
    assert whole[-1]["response"] == stored


def test_cancel_through_another_replica_while_a_third_follows(cluster: ReplicaCluster) -> None:
    queued = _create(cluster.base_url)
    _wait(cluster.base_url, queued["id"], lambda r: r["status"] == "in_progress")
    owner = _owner(cluster, queued["id"])
    follower, canceller = _others(cluster, owner)
    followed: list[dict[str, Any]] = []
    thread = threading.Thread(target=_follow, args=(follower.base_url, queued["id"], -1, followed))
    thread.start()
    deadline = time.monotonic() + 60
    while not any(e["type"] == "response.output_text.delta" for e in followed):
        assert time.monotonic() < deadline and thread.is_alive()
        time.sleep(0.05)
    with _http(canceller.base_url) as http:
        reply = http.post(f"/v1/responses/{queued['id']}/cancel")
    assert reply.status_code == 200, reply.text
    assert reply.json()["status"] == "cancelled"  # stored so before the call returned
    thread.join(60)
    assert not thread.is_alive(), "the follower's stream did not end"
    _consecutive(followed, 0)
    assert all(e["type"] != "response.completed" for e in followed)
    for replica in cluster.replicas:  # every replica reads it cancelled
        with _http(replica.base_url) as http:
            assert http.get(f"/v1/responses/{queued['id']}").json()["status"] == "cancelled"


ASK: dict[str, Any] = {"model": "quick", "input": "Hi", "max_output_tokens": 16}


def test_shared_budget_holds_under_200_concurrent_requests(cluster: ReplicaCluster) -> None:
    with admin_http(cluster.base_url) as admin:
        gateway = Gateway(cluster.base_url, admin)
        calibration = gateway.sdk(gateway.key()[1]).responses.create(**ASK)
        assert calibration.usage is not None  # the stand-in counts 42 in, 9 out
        worst = calibration.usage.input_tokens * Decimal("0.000001") + 16 * Decimal("0.000008")
        budget = worst * 10
        key_id, secret = gateway.key(budget_usd=str(budget))
        client = gateway.sdk(secret)

        def one(_: int) -> str:
            try:
                client.responses.create(**ASK)
            except openai.RateLimitError as error:
                return str(error.code)
            return "ok"

        with ThreadPoolExecutor(max_workers=50) as pool:
            outcomes = list(pool.map(one, range(200)))
        assert set(outcomes) <= {"ok", "insufficient_quota"}, set(outcomes)
        assert outcomes.count("ok") >= 1 and "insufficient_quota" in outcomes
        rows = gateway.ledger(key_id, wait_for=outcomes.count("ok"))
        spend = Decimal(gateway.show(key_id)["spend_usd"])
        assert spend <= budget + worst, (spend, budget, worst, outcomes.count("ok"))
        assert len(rows) >= outcomes.count("ok")  # every answer billed
