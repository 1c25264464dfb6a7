"""Proxy headers (issue 26, hole 4): `X-Forwarded-For` and `X-Forwarded-Proto` are believed
only from the peers named in `trusted_proxies`. By default a client on loopback, or one
whose header a proxy passes along, cannot choose its address: not for a key's IP
allow-list, not for the sign-in throttle, not in the access log, not for `Secure`."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.support.console_support import ADMIN_PASSWORD, csrf_of, sign_in
from tests.support.gateway_support import Gateway, admin_http
from tests.support.server import ServerProcess, make_client
from thinkgate.config import ConfigError, load_settings

FORGED = "203.0.113.9"
OTHER = "198.51.100.7"


def _server(data_dir: Path, **env: str) -> ServerProcess:
    return ServerProcess(
        data_dir,
        extra_env={"THINKGATE_ADMIN_PASSWORD": ADMIN_PASSWORD, "THINKGATE_LOG_FORMAT": "json"}
        | env,
    )


@pytest.fixture(scope="module")
def untrusting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The default: no trusted proxies."""
    process = _server(tmp_path_factory.mktemp("proxy-default") / "data")
    yield process
    process.stop()


@pytest.fixture(scope="module")
def behind_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """Loopback named as the proxy (`THINKGATE_TRUSTED_PROXIES`), as in docs/deploy.md."""
    process = _server(
        tmp_path_factory.mktemp("proxy-trusted") / "data",
        THINKGATE_TRUSTED_PROXIES="127.0.0.1, ::1",
    )
    yield process
    process.stop()


def _key(server: ServerProcess, *allowed: str) -> str:
    with admin_http(server.base_url) as http:
        return Gateway(server.base_url, http).key(ip_allow=list(allowed))[1]


def _models(server: ServerProcess, secret: str, forwarded_for: str) -> int:
    """The status of `GET /v1/models` through the SDK, with this X-Forwarded-For."""
    try:
        make_client(server.base_url, secret).models.list(
            extra_headers={"X-Forwarded-For": forwarded_for}
        )
    except openai.PermissionDeniedError as refused:
        assert refused.code == "ip_not_allowed"
        return refused.status_code
    return 200


def _access_line(server: ServerProcess, request_id: str) -> dict[str, Any]:
    """The JSON access-log line of one request (written just after its reply)."""
    deadline = time.monotonic() + 10
    while True:
        for line in server.log().splitlines():
            if request_id in line and line.startswith("{"):
                record: dict[str, Any] = json.loads(line)
                if record.get("request_id") == request_id and "status" in record:
                    return record
        assert time.monotonic() < deadline, f"no access-log line for {request_id}"
        time.sleep(0.05)


def _client_logged(server: ServerProcess, forwarded_for: str) -> str:
    request_id = f"req-proxy-{secrets.token_hex(6)}"
    headers = {"X-Forwarded-For": forwarded_for, "X-Request-Id": request_id}
    assert httpx.get(f"{server.base_url}/v1/models", headers=headers).status_code == 401
    return str(_access_line(server, request_id)["client"])


def test_a_forged_address_does_not_pass_an_ip_allow_list(untrusting: ServerProcess) -> None:
    assert _models(untrusting, _key(untrusting, FORGED), FORGED) == 403
    assert _models(untrusting, _key(untrusting, "127.0.0.1"), FORGED) == 200


def test_the_access_log_records_the_peer_not_the_header(untrusting: ServerProcess) -> None:
    assert _client_logged(untrusting, FORGED) == "127.0.0.1"


def test_x_forwarded_proto_does_not_make_the_cookie_secure(untrusting: ServerProcess) -> None:
    with httpx.Client(base_url=untrusting.base_url) as http:
        reply = sign_in(http, "admin", ADMIN_PASSWORD, headers={"X-Forwarded-Proto": "https"})
        assert reply.status_code == 303 and "Secure" not in reply.headers["set-cookie"]


def test_rotating_x_forwarded_for_still_meets_the_address_throttle(
    untrusting: ServerProcess,
) -> None:
    """30 attempts a minute per address; each try names another account and address.
    (Last in this module: it spends loopback's sign-in allowance on this server.)"""
    statuses: list[int] = []
    with httpx.Client(base_url=untrusting.base_url) as http:
        token = csrf_of(http.get("/console/login").text)
        for n in range(31):
            reply = http.post(
                "/console/login",
                data={"csrf_token": token, "login": f"nobody-{n}", "password": "guess-1234"},
                headers={"X-Forwarded-For": f"198.51.100.{n + 1}"},
            )
            statuses.append(reply.status_code)
            if reply.status_code == 429:
                break
            token = csrf_of(reply.text)
    assert statuses[-1] == 429, statuses
    assert set(statuses[:-1]) == {401}


def test_a_trusted_proxy_s_x_forwarded_for_is_honoured(behind_proxy: ServerProcess) -> None:
    forged_ok, loopback_ok = _key(behind_proxy, FORGED), _key(behind_proxy, "127.0.0.1")
    assert _models(behind_proxy, forged_ok, FORGED) == 200
    assert _models(behind_proxy, loopback_ok, FORGED) == 403
    assert _client_logged(behind_proxy, FORGED) == FORGED


def test_the_client_is_the_right_most_untrusted_address(behind_proxy: ServerProcess) -> None:
    """What a client wrote comes first; each proxy appends the peer it saw. Only the
    addresses that trusted proxies appended are skipped."""
    forged_ok, other_ok = _key(behind_proxy, FORGED), _key(behind_proxy, OTHER)
    chain = f"{OTHER}, {FORGED}"  # OTHER was the client's own claim, FORGED its real peer
    assert _models(behind_proxy, forged_ok, chain) == 200
    assert _models(behind_proxy, other_ok, chain) == 403
    assert _client_logged(behind_proxy, chain) == FORGED
    assert _client_logged(behind_proxy, f"{FORGED}, 127.0.0.1") == FORGED


def test_a_trusted_proxy_s_x_forwarded_proto_makes_the_cookie_secure(
    behind_proxy: ServerProcess,
) -> None:
    with httpx.Client(base_url=behind_proxy.base_url) as http:
        reply = sign_in(http, "admin", ADMIN_PASSWORD, headers={"X-Forwarded-Proto": "https"})
        assert reply.status_code == 303 and "Secure" in reply.headers["set-cookie"]


def test_trusted_proxies_setting(tmp_path: Path) -> None:
    assert load_settings(environ={}).trusted_proxies == []
    from_env = load_settings(environ={"THINKGATE_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8,::1"})
    assert from_env.trusted_proxies == ["127.0.0.1", "10.0.0.0/8", "::1"]
    config = tmp_path / "thinkgate.toml"
    config.write_text('[server]\ntrusted_proxies = ["192.168.1.7/24", "10.1.2.3/32"]\n')
    from_file = load_settings(config_file=config, environ={})
    assert from_file.trusted_proxies == ["192.168.1.0/24", "10.1.2.3"]  # as uvicorn reads them
    for bad in ("*", "nginx", "10.0.0.0/33"):
        with pytest.raises(ConfigError, match="trusted_proxies"):
            load_settings(environ={"THINKGATE_TRUSTED_PROXIES": bad})
