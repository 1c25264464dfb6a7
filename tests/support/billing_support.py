"""Helpers for the wallet, codes, plans, audit and alert tests: a loopback webhook receiver
that checks signatures (and fails the first tries on purpose), a config with wallets on,
and the admin calls the tests repeat."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from tests.support.server import ADMIN_KEY

WEBHOOK_SECRET = "whsec-test-0123456789"
SMALL = {"model": "gpt-5.1", "input": "Say hi.", "max_output_tokens": 16, "temperature": 0}


class WebhookReceiver:
    """Accepts alert posts on loopback; answers 500 to the first `fail_first` posts."""

    def __init__(self, fail_first: int = 0) -> None:
        self.received: list[dict[str, Any]] = []  # every post, accepted or not
        self.fail_first = fail_first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                record = {
                    "body": body,
                    "timestamp": self.headers.get("x-thinkgate-timestamp", ""),
                    "signature": self.headers.get("x-thinkgate-signature", ""),
                    "at": time.monotonic(),
                }
                failing = len(receiver.received) < receiver.fail_first
                record["status"] = 500 if failing else 204
                receiver.received.append(record)
                self.send_response(record["status"])
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def accepted(self) -> list[dict[str, Any]]:
        return [json.loads(r["body"]) for r in self.received if r["status"] == 204]

    def wait_for(self, predicate: Any, timeout: float = 60) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            events = self.accepted()
            if predicate(events):
                return events
            time.sleep(0.1)
        raise AssertionError(f"webhook never saw what was expected: {self.accepted()}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def signature_ok(record: dict[str, Any], secret: str = WEBHOOK_SECRET) -> bool:
    message = record["timestamp"].encode() + b"." + record["body"]
    expected = "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, record["signature"])


def billing_config(path: Path, webhook: str | None = None, **alerts: Any) -> Path:
    lines = ["[wallet]", "enabled = true", ""]
    if webhook is not None:
        lines += [
            "[alerts]",
            "interval_seconds = 0.2",
            "retry_base_seconds = 0.2",
            *(f"{k} = {json.dumps(v)}" for k, v in alerts.items()),
            "[[alerts.webhooks]]",
            f'url = "{webhook}"',
            f'secret = "{WEBHOOK_SECRET}"',
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


def admin(base_url: str) -> httpx.Client:
    return httpx.Client(
        base_url=base_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=120
    )


def member_with_key(api: httpx.Client, name: str) -> tuple[str, str]:
    """(user id, key secret) of a new member."""
    user = api.post("/admin/v1/users", json={"name": name, "password": "member-pass-1"})
    assert user.status_code == 201, user.text
    user_id = user.json()["id"]
    key = api.post("/admin/v1/keys", json={"name": f"{name}-key", "user_id": user_id})
    assert key.status_code == 201, key.text
    return user_id, key.json()["key"]


def codes(api: httpx.Client, value_usd: str, count: int = 1, **extra: Any) -> dict[str, Any]:
    reply = api.post(
        "/admin/v1/redemption_codes",
        json={"name": "test batch", "value_usd": value_usd, "count": count, **extra},
    )
    assert reply.status_code == 201, reply.text
    return dict(reply.json())
