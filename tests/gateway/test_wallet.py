"""Wallets, redemption codes, plans, the audit log and alerts on one server (SQLite, wallets
on, alerts to a loopback webhook, the plan clock injectable): spend until the balance runs
out and get `insufficient_quota`; a used, expired, revoked or unknown code gets a clear
message; an admin's adjustment is recorded with its reason; the audit log is filterable,
exportable and cannot be rewritten; a plan window refuses, then refills when the clock
moves; thresholds reach the webhook once each, signed, after retries."""

from __future__ import annotations

import csv
import io
import re
import sqlite3
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import openai
import pytest

from tests.support.billing_support import (
    SMALL,
    WebhookReceiver,
    admin,
    billing_config,
    codes,
    member_with_key,
    signature_ok,
)
from tests.support.console_support import ADMIN_PASSWORD, Browserless
from tests.support.server import ServerProcess, make_client


@pytest.fixture(scope="module")
def hook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(fail_first=2)  # the first two posts fail: retried
    yield receiver
    receiver.close()


@pytest.fixture(scope="module")
def clock(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clock") / "offset"
    path.write_text("0")
    return path


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, hook: WebhookReceiver, clock: Path
) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("wallet")
    config = billing_config(root / "config.toml", hook.url, thresholds=[50, 100])
    env = {"THINKGATE_ADMIN_PASSWORD": ADMIN_PASSWORD, "THINKGATE_TEST_CLOCK_FILE": str(clock)}
    process = ServerProcess(root / "data", config=config, extra_env=env)
    yield process
    for console in _SESSIONS.values():
        console.close()
    _SESSIONS.clear()
    process.stop()


@pytest.fixture(scope="module")
def api(server: ServerProcess) -> Iterator[httpx.Client]:
    with admin(server.base_url) as client:
        yield client


_SESSIONS: dict[str, Browserless] = {}


def _redeem(server: ServerProcess, login: str, code: str) -> tuple[int, str]:
    """Redeem in the console as `login` (one signed-in session per user: sign-in is throttled)."""
    console = _SESSIONS.get(login)
    if console is None:
        console = _SESSIONS[login] = Browserless(server, login, "member-pass-1")
    reply = console.post_form("/console/wallet/redeem", {"code": code}, from_page="/console/wallet")
    said = re.findall(r'role="(?:status|alert)">([^<]*)<', reply.text)
    return reply.status_code, said[0] if said else ""


def test_spend_until_the_balance_runs_out(
    server: ServerProcess, api: httpx.Client, hook: WebhookReceiver
) -> None:
    user_id, secret = member_with_key(api, "spender")
    sdk = make_client(server.base_url, secret)
    with pytest.raises(openai.RateLimitError) as empty:  # no wallet yet: nothing to spend
        sdk.responses.create(**SMALL)
    assert empty.value.code == "insufficient_quota"
    batch = codes(api, "0.0005")
    status, said = _redeem(server, "spender", batch["codes"][0])
    assert (status, said) == (200, "Redeemed: $0.0005 added to your balance.")
    served = 0
    while True:
        try:
            sdk.responses.create(**SMALL)
            served += 1
        except openai.RateLimitError as refused:
            assert refused.status_code == 429 and refused.code == "insufficient_quota"
            assert refused.body["type"] == "insufficient_quota"  # type: ignore[index]
            break
        assert served < 10, "the balance never ran out"
    assert served >= 2
    wallet = api.get(f"/admin/v1/users/{user_id}/wallet").json()
    rows = api.get("/admin/v1/requests", params={"limit": 100}).json()["data"]
    spent = sum(Decimal(r["cost_usd"]) for r in rows if r["user_id"] == user_id)
    assert Decimal(wallet["spent_usd"]) == spent
    assert Decimal(wallet["balance_usd"]) == Decimal("0.0005") - spent >= 0
    own = httpx.get(
        f"{server.base_url}/v1/wallet", headers={"Authorization": f"Bearer {secret}"}
    ).json()
    assert own["balance_usd"] == wallet["balance_usd"] and own["wallet_enabled"] is True
    # alerts: 50% of the credit, and 100% (refused for an empty balance), each once,
    # signed, delivered after two failed tries
    subject = f"user:{user_id}"

    def both(events: list[dict[str, object]]) -> bool:
        mine = [e for e in events if e.get("subject") == subject]
        return {e["threshold_percent"] for e in mine} >= {50, 100}

    events = hook.wait_for(both)
    mine = [e for e in events if e.get("subject") == subject]
    assert sorted(e["threshold_percent"] for e in mine) == [50, 100]
    assert all(e["type"] == "balance.threshold" for e in mine)
    assert [r["status"] for r in hook.received[:2]] == [500, 500]
    assert all(signature_ok(r) for r in hook.received)
    assert batch["codes"][0] not in server.log()


def test_codes_refused_with_a_clear_message(server: ServerProcess, api: httpx.Client) -> None:
    member_with_key(api, "redeemer")
    used = codes(api, "1")["codes"][0]
    assert _redeem(server, "redeemer", used)[0] == 200
    assert _redeem(server, "redeemer", used) == (400, "This code has already been redeemed.")
    soon = codes(api, "1", expires_at=int(time.time()) + 2)["codes"][0]
    revoked = codes(api, "1")
    assert api.delete(f"/admin/v1/redemption_codes/{revoked['id']}").json()["revoked"] == 1
    assert _redeem(server, "redeemer", revoked["codes"][0]) == (400, "This code has been revoked.")
    time.sleep(2.5)
    assert _redeem(server, "redeemer", soon) == (400, "This code has expired.")
    assert _redeem(server, "redeemer", "TG-NOPE-NOPE-NOPE-NOPE-NOPE")[1] == (
        "This code does not exist. Check it and try again."
    )
    assert _redeem(server, "redeemer", "x" * 5000)[0] == 400  # over-long: refused, nothing written
    past = api.post(
        "/admin/v1/redemption_codes",
        json={"name": "old", "value_usd": "1", "count": 1, "expires_at": 1},
    )
    assert past.status_code == 400 and past.json()["error"]["param"] == "expires_at"
    too_many = api.post(
        "/admin/v1/redemption_codes", json={"name": "x", "value_usd": "1", "count": 0}
    )
    assert too_many.status_code == 400


def test_batches_listed_and_exported(server: ServerProcess, api: httpx.Client) -> None:
    batch = codes(api, "2.5", count=3)
    listed = {b["id"]: b for b in api.get("/admin/v1/redemption_codes").json()["data"]}
    assert listed[batch["id"]]["count"] == 3 and listed[batch["id"]]["value_usd"] == "2.5"
    exported = api.get(f"/admin/v1/redemption_codes/{batch['id']}", params={"format": "csv"})
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["status"] for r in rows] == ["open"] * 3
    assert not any(code in exported.text for code in batch["codes"])  # stored hashed
    plain = api.post(
        "/admin/v1/redemption_codes",
        params={"format": "csv"},
        json={"name": "csv", "value_usd": "1", "count": 2},
    )
    assert plain.status_code == 201 and len(list(csv.DictReader(io.StringIO(plain.text)))) == 2


def test_adjustment_recorded_with_reason_and_audited(
    server: ServerProcess, api: httpx.Client
) -> None:
    user_id, _ = member_with_key(api, "adjusted")
    reply = api.post(
        f"/admin/v1/users/{user_id}/wallet/adjustments",
        json={"amount_usd": "3.25", "reason": "refund for outage"},
    )
    assert reply.status_code == 201 and reply.json()["balance_usd"] == "3.25"
    entry = reply.json()["entries"][0]
    assert (entry["kind"], entry["reason"], entry["actor_id"]) == (
        "adjust",
        "refund for outage",
        "usr_admin",
    )
    no_reason = api.post(f"/admin/v1/users/{user_id}/wallet/adjustments", json={"amount_usd": "1"})
    assert no_reason.status_code == 400
    events = api.get("/admin/v1/audit", params={"action": "wallet.adjusted"}).json()["data"]
    event = next(e for e in events if e["target"] == f"user:{user_id}")
    assert event["actor_id"] == "usr_admin" and event["ip"] == "127.0.0.1"
    assert (
        event["detail"]["reason"] == "refund for outage" and event["detail"]["amount_usd"] == "3.25"
    )
    keys = api.get("/admin/v1/audit", params={"action": "key."}).json()["data"]
    assert {"key.created"} <= {e["action"] for e in keys}
    exported = api.get("/admin/v1/audit", params={"format": "csv", "action": "wallet."})
    assert "refund for outage" in exported.text and exported.text.startswith("id,time,actor")
    prices = api.get("/admin/v1/audit", params={"action": "price.changed"}).json()["data"]
    assert prices[0]["actor_id"] == "system"  # the config's prices, recorded at the first start
    assert prices[0]["detail"]["state"]["tools"]["web_search"] == "0.01"
    _, member_key = member_with_key(api, "nosy")
    denied = httpx.get(
        f"{server.base_url}/admin/v1/audit", headers={"Authorization": f"Bearer {member_key}"}
    )
    assert denied.status_code == 403


def test_audit_log_cannot_be_rewritten(server: ServerProcess) -> None:
    database = sqlite3.connect(server.data_dir / "thinkgate.db")
    try:
        for statement in ("UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                database.execute(statement)
    finally:
        database.close()


def test_plan_window_refuses_then_refills(
    server: ServerProcess, api: httpx.Client, clock: Path
) -> None:
    plan = api.post(
        "/admin/v1/plans",
        json={"name": "two per 5h", "windows": [{"period": "5h", "requests": 2}]},
    )
    assert plan.status_code == 201, plan.text
    key = api.post("/admin/v1/keys", json={"name": "planned", "role": "admin"}).json()
    assigned = api.put(f"/admin/v1/keys/{key['id']}/plan", json={"plan_id": plan.json()["id"]})
    assert assigned.status_code == 200
    sdk = make_client(server.base_url, key["key"])
    sdk.responses.create(**SMALL)
    sdk.responses.create(**SMALL)
    with pytest.raises(openai.RateLimitError) as refused:
        sdk.responses.create(**SMALL)
    assert refused.value.code == "plan_limit_exceeded"
    wait = int(refused.value.response.headers["retry-after"])
    assert 3600 < wait <= 5 * 3600  # what is left of the window (the calls took a while)
    assert "refills at" in refused.value.message
    status = httpx.get(
        f"{server.base_url}/v1/wallet", headers={"Authorization": f"Bearer {key['key']}"}
    ).json()["plans"][0]["windows"][0]
    assert status["requests"] == {"used": 2, "limit": 2}
    assert 0 <= wait - status["refills_in_s"] <= 60  # the same refill time, a moment later
    clock.write_text(str(5 * 3600 + 5))  # five hours later
    time.sleep(0.05)
    try:
        assert sdk.responses.create(**SMALL).status in ("completed", "incomplete")
    finally:
        clock.write_text("0")


def test_plan_bad_input(api: httpx.Client) -> None:
    for windows in (
        [],
        [{"period": "year", "requests": 1}],
        [{"period": "5h"}],
        [{"period": "5h", "usd": "-1"}],
        [{"period": "5h", "requests": 1, "x": 1}],
    ):
        reply = api.post("/admin/v1/plans", json={"name": "bad", "windows": windows})
        assert reply.status_code == 400 and reply.json()["error"]["param"] == "windows", windows
    long_name = api.post(
        "/admin/v1/plans", json={"name": "n" * 201, "windows": [{"period": "5h", "requests": 1}]}
    )
    assert long_name.status_code == 400
    unknown = api.put("/admin/v1/users/usr_admin/plan", json={"plan_id": "plan_nope"})
    assert unknown.status_code == 404


def test_tool_prices_in_the_console(server: ServerProcess) -> None:
    console = Browserless(server, "admin", ADMIN_PASSWORD)
    try:
        for path in ("/console/admin", "/console/wallet"):
            page = console.page(path).text
            assert re.search(r"<code>web_search</code></td><td>0\.01</td>", page), path
    finally:
        console.close()
