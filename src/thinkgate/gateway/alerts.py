"""Alerts: budget, balance and plan thresholds and channel health changes, to webhooks.

Nothing here runs on a request's path: a settled request only marks its key as touched
(`touched`, a set insert); a background task checks touched keys every `interval_seconds`,
and each threshold crossed is sent once per period — the first replica to insert its mark
(`alert_marks`, primary key) sends it. Deliveries are queued and each is retried with
exponential backoff; a webhook that is down costs the queue, never a request.

Signature: `X-Thinkgate-Signature: sha256=<hex HMAC-SHA256(secret, "<ts>.<body>")>` with
`X-Thinkgate-Timestamp: <ts>`; the receiver recomputes it and may refuse old timestamps.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy.exc import IntegrityError

from thinkgate.config_billing import AlertsConfig, WebhookConfig
from thinkgate.gateway.pricing import to_pico
from thinkgate.store.billing_tables import AlertMarkRow
from thinkgate.store.database import Database
from thinkgate.store.keys import KeyRecord

log = logging.getLogger(__name__)

# (kind, subject, period, percent used, words) for each figure a key's request moved;
# the flag: the key's last request was refused for an empty balance (100% used)
Figures = Callable[[KeyRecord, bool], Awaitable[list[tuple[str, str, str, float, str]]]]


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def percent(used: int, limit: int) -> float:
    return 100.0 if limit <= 0 else used * 100 / limit


@dataclass(slots=True)
class Alerts:
    config: AlertsConfig
    database: Database
    figures: Figures  # what a key's request moved: budgets, balance, plan windows
    channels: Callable[[], list[tuple[str, str]]] = list
    _touched: dict[str, tuple[KeyRecord, bool]] = field(default_factory=dict)
    _queue: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    _channels_seen: dict[str, str] | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _deliveries: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def enabled(self) -> bool:
        return bool(self.config.webhooks)

    def touched(self, key: KeyRecord, *, exhausted: bool = False) -> None:
        """`exhausted`: refused for an empty balance (its 100% threshold)."""
        if self.enabled:
            self._touched[key.id] = (key, exhausted or self._touched.get(key.id, (key, False))[1])

    def start(self) -> None:
        if self.enabled:
            self._tasks = [
                asyncio.create_task(self._watch(), name="alerts-watch"),
                asyncio.create_task(self._deliver(), name="alerts-deliver"),
            ]

    async def aclose(self) -> None:
        for task in [*self._tasks, *self._deliveries]:
            task.cancel()
        for task in [*self._tasks, *self._deliveries]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.config.interval_seconds)
            try:
                await self.check()
            except Exception:
                log.exception("alert check failed; trying again next round")

    async def check(self) -> None:
        """One round: touched keys' figures, then channel health."""
        touched, self._touched = self._touched, {}
        for key, exhausted in touched.values():
            for kind, subject, period, used, words in await self.figures(key, exhausted):
                await self._thresholds(kind, subject, period, used, words)
        if self.config.channels:
            self._channel_changes()

    async def _thresholds(
        self, kind: str, subject: str, period: str, used: float, words: str
    ) -> None:
        for threshold in self.config.thresholds:
            if used < threshold:
                break
            mark = f"{kind}|{subject}|{period}|{threshold}"[:300]
            if not await self._first(mark):
                continue
            self.send(
                {
                    "type": f"{kind}.threshold",
                    "subject": subject,
                    "period": period,
                    "threshold_percent": threshold,
                    "used_percent": round(used, 2),
                    "text": f"thinkgate: {words}: {used:.0f}% used (threshold {threshold}%).",
                }
            )

    async def _first(self, mark: str) -> bool:
        """True for the one replica (and the one round) that records this mark first."""
        try:
            async with self.database.session() as session, session.begin():
                session.add(AlertMarkRow(mark=mark, created_at=int(time.time())))
        except IntegrityError:
            return False
        return True

    def _channel_changes(self) -> None:
        states = dict(self.channels())
        seen, self._channels_seen = self._channels_seen, states
        if seen is None:
            return  # the first look: a baseline, not a change
        for name, state in states.items():
            if seen.get(name, state) != state:
                self.send(
                    {
                        "type": "channel.health",
                        "subject": f"channel:{name}",
                        "from": seen[name],
                        "to": state,
                        "text": f"thinkgate: channel {name} is now {state} (was {seen[name]}).",
                    }
                )

    def send(self, event: dict[str, Any]) -> None:
        self._queue.put_nowait({**event, "sent_at": int(time.time())})

    async def _deliver(self) -> None:
        async with httpx.AsyncClient(timeout=10) as client:
            while True:
                event = await self._queue.get()
                for hook in self.config.webhooks:
                    task = asyncio.create_task(self._post(client, hook, event))
                    self._deliveries.add(task)
                    task.add_done_callback(self._deliveries.discard)

    async def _post(
        self, client: httpx.AsyncClient, hook: WebhookConfig, event: dict[str, Any]
    ) -> None:
        payload = {"text": event["text"]} if hook.format == "slack" else event
        body = json.dumps(payload, separators=(",", ":")).encode()
        for attempt in range(self.config.retries + 1):
            timestamp = str(int(time.time()))
            headers = {"content-type": "application/json", "x-thinkgate-timestamp": timestamp}
            if hook.secret is not None:
                headers["x-thinkgate-signature"] = sign(
                    hook.secret.get_secret_value(), timestamp, body
                )
            try:
                reply = await client.post(hook.url, content=body, headers=headers)
                if reply.status_code < 300:
                    return
                reason = f"HTTP {reply.status_code}"
            except httpx.HTTPError as error:
                reason = type(error).__name__
            if attempt < self.config.retries:
                await asyncio.sleep(self.config.retry_base_seconds * 2**attempt)
        log.warning("alert %s not delivered to a webhook: %s", event["type"], reason)


def usd_percent(spent_pico: int, limit: Decimal) -> float:
    return percent(spent_pico, to_pico(limit))
