"""Alert delivery on its own (no model, no server): a channel's health change reaches a
Slack-format webhook on loopback, signed; a threshold crossed again in the same period is
not sent again, a new period sends it again; a webhook that never answers costs retries,
never an exception."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from tests.support.billing_support import WEBHOOK_SECRET, WebhookReceiver, signature_ok
from thinkgate.config_billing import AlertsConfig, WebhookConfig
from thinkgate.gateway.alerts import Alerts
from thinkgate.store.database import Database
from thinkgate.store.keys import KeyRecord


def _alerts(database: Database, url: str, states: list[list[tuple[str, str]]], fmt: str) -> Alerts:
    config = AlertsConfig(
        webhooks=[WebhookConfig(url=url, secret=WEBHOOK_SECRET, format=fmt)],  # type: ignore[arg-type]
        thresholds=[50, 100],
        interval_seconds=3600,  # rounds are run by hand here
        retries=2,
        retry_base_seconds=0.05,
    )
    spent = iter([60.0, 60.0, 100.0])

    async def figures(key: KeyRecord, exhausted: bool) -> list[tuple[str, str, str, float, str]]:
        return [("budget", f"key:{key.id}", "2026-12", next(spent), "key budget")]

    return Alerts(config, database, figures, channels=lambda: states.pop(0))


def test_channel_change_and_thresholds_once_per_period(tmp_path: Path) -> None:
    receiver = WebhookReceiver(fail_first=1)
    states = [[("up-1", "closed")], [("up-1", "open")], [("up-1", "open")]]

    async def run() -> None:
        database = Database(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}")
        await database.migrate()
        alerts = _alerts(database, receiver.url, states, "slack")
        alerts.start()
        key = KeyRecord(
            id="key_x", name="x", key_hash="", prefix="", user_id=None, role="member", created_at=0
        )
        for _ in range(3):  # 60% (50 fires), 60% again (nothing), 100% (100 fires)
            alerts.touched(key)
            await alerts.check()
        await asyncio.sleep(1.0)
        await alerts.aclose()
        await database.aclose()

    try:
        asyncio.run(run())
        texts = [event["text"] for event in receiver.accepted()]
        assert sorted(texts) == sorted(
            [
                "thinkgate: channel up-1 is now open (was closed).",
                "thinkgate: key budget: 60% used (threshold 50%).",
                "thinkgate: key budget: 100% used (threshold 100%).",
            ]
        )
        assert all(set(json.loads(r["body"])) == {"text"} for r in receiver.received)  # Slack
        assert receiver.received[0]["status"] == 500 and all(
            signature_ok(r) for r in receiver.received
        )
    finally:
        receiver.close()


def test_a_dead_webhook_costs_retries_only(tmp_path: Path) -> None:
    async def run() -> int:
        database = Database(f"sqlite+aiosqlite:///{tmp_path / 'b.db'}")
        await database.migrate()
        alerts = _alerts(database, "http://127.0.0.1:9/hook", [[], []], "json")  # nobody listens
        alerts.start()
        alerts.send({"type": "test", "text": "hello"})
        await asyncio.sleep(0.5)  # 3 tries, 0.05 s then 0.1 s apart: all failed, logged
        pending = len(alerts._deliveries)
        await alerts.aclose()
        await database.aclose()
        return pending

    assert asyncio.run(run()) == 0
