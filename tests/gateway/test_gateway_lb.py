"""Two replicas on one PostgreSQL + Redis behind nginx, configured as docs/deploy.md says:
requests spread over both, a replica taken out with SIGTERM loses no request, SSE is not
buffered, and the shared ledger has one row per request served."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import openai
import pytest

from tests.support.config import channel, server_config
from tests.support.gateway_support import Gateway, admin_http, services, shared_env
from tests.support.metrics import metrics, value
from tests.support.server import ADMIN_KEY, ServerProcess, free_port
from tests.support.upstreams import UpstreamProcess


def _config(url: str) -> str:
    return server_config(
        channel("standin", url, {"gpt-5.1-up": "ok:lb", "ticking": "ticks30:lb"}),
        shutdown_drain_seconds=3,
        trusted_proxies=["127.0.0.1"],
    )


NGINX = """
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    upstream thinkgate {{
        least_conn;
        server 127.0.0.1:{a} max_fails=3 fail_timeout=10s;
        server 127.0.0.1:{b} max_fails=3 fail_timeout=10s;
        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 16m;
        location / {{
            proxy_pass http://thinkgate;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Request-Id $request_id;
            proxy_buffering off;
            proxy_read_timeout 600s;
            proxy_next_upstream error http_503 non_idempotent;
            proxy_next_upstream_tries 2;
        }}
    }}
}}
"""


def _nginx() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if found is None and os.getuid() == 0 and shutil.which("apt-get"):
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", "nginx"],
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            capture_output=True,
            check=False,
        )
        found = shutil.which("nginx", path="/usr/sbin:/usr/bin")
    if found is None:
        pytest.skip("nginx is not installed and cannot be installed here")
    return found


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, standin: UpstreamProcess
) -> Iterator[tuple[str, ServerProcess, ServerProcess]]:
    binary = _nginx()
    env = shared_env(services())
    root = tmp_path_factory.mktemp("lb")
    config = root / "thinkgate.toml"
    config.write_text(_config(standin.base_url))
    started: list[ServerProcess] = []
    nginx: subprocess.Popen[bytes] | None = None
    try:
        for name in ("a", "b"):
            (root / name).mkdir()
            started.append(ServerProcess(root / name / "data", config=config, extra_env=env))
        port = free_port()
        (root / "nginx.conf").write_text(
            NGINX.format(root=root, a=started[0].port, b=started[1].port, port=port)
        )
        nginx = subprocess.Popen(
            [binary, "-p", str(root), "-c", str(root / "nginx.conf"), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=(root / "nginx.out").open("wb"),
        )
        base = f"http://127.0.0.1:{port}"
        _wait(base, nginx, root)
        yield base, started[0], started[1]
    finally:
        if nginx is not None:
            nginx.terminate()
            nginx.wait(10)
        for process in started:
            process.stop()


def _wait(base: str, nginx: subprocess.Popen[bytes], root: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if nginx.poll() is not None:
            raise RuntimeError((root / "nginx.out").read_text() + (root / "error.log").read_text())
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("nginx did not come up")


def _served(replica: ServerProcess) -> float:
    samples = metrics(replica.base_url)
    return value(
        samples,
        "thinkgate_http_requests_total",
        route="/v1/responses",
        method="POST",
        status="200",
        model="gpt-5.1-up",
    )


def _ask(base: str, key: str) -> int:
    reply = httpx.post(
        f"{base}/v1/responses",
        json={"model": "gpt-5.1-up", "input": "hi", "max_output_tokens": 32},
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )
    return reply.status_code


def test_nginx_spreads_requests_and_a_draining_replica_loses_none(
    cluster: tuple[str, ServerProcess, ServerProcess],
) -> None:
    base, a, b = cluster
    with admin_http(base) as http:
        gateway = Gateway(base, http)
        key_id, secret = gateway.key(budget_usd="5")
        with ThreadPoolExecutor(max_workers=4) as pool:
            codes = list(pool.map(lambda _: _ask(base, secret), range(40)))
        assert codes == [200] * 40
        assert _served(a) > 0 and _served(b) > 0  # both replicas took a share
        # SIGTERM to A: it drains (503 → nginx retries on B), then closes (connect refused)
        a.process.send_signal(signal.SIGTERM)
        during = [_ask(base, secret) for _ in range(30)]
        assert a.process.wait(60) == 0
        after = [_ask(base, secret) for _ in range(10)]
        assert during == [200] * 30 and after == [200] * 10
        ledger = gateway.ledger(key_id, wait_for=80)
        assert len(ledger) == 80  # one row per request served, across both replicas
        assert len({row["request_id"] for row in ledger}) == 80


def test_a_client_cannot_choose_its_address_through_nginx(
    cluster: tuple[str, ServerProcess, ServerProcess],
) -> None:
    """nginx sets X-Forwarded-For to the peer it saw (loopback here), replacing the
    client's own; the replicas trust nginx alone (issue 26)."""
    base = cluster[0]
    with admin_http(base) as http:
        gateway = Gateway(base, http)
        _, claims = gateway.key(ip_allow=["203.0.113.9"])
        _, real = gateway.key(ip_allow=["127.0.0.1"])
    forged = {"X-Forwarded-For": "203.0.113.9"}
    with pytest.raises(openai.PermissionDeniedError):
        gateway.sdk(claims).models.list(extra_headers=forged)
    assert gateway.sdk(real).models.list(extra_headers=forged).data


def test_sse_passes_through_nginx_unbuffered(
    cluster: tuple[str, ServerProcess, ServerProcess],
) -> None:
    base = cluster[0]
    arrivals: list[float] = []
    started = time.monotonic()
    with httpx.stream(
        "POST",
        f"{base}/v1/responses",
        json={"model": "ticking", "input": "tick", "stream": True, "max_output_tokens": 200},
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        timeout=60,
    ) as reply:
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("text/event-stream")
        for _ in reply.iter_raw():
            arrivals.append(time.monotonic() - started)
    # the upstream ticks for ~3 s: a buffering proxy would deliver it all at the end
    assert len(arrivals) > 5 and arrivals[-1] - arrivals[0] > 1.5
