"""The audit log: every admin action and security event, with who, when, from where and
what changed. Append-only (`store/audit.py` has no update or delete; a trigger refuses both).

    await audit.record(services.database, "auth.sign_in", actor=user.id, ip=client_ip(request))

Actions are dotted nouns: `auth.sign_in`, `auth.sign_in_failed`, `auth.sign_out`,
`user.created`, `user.password_set`, `user.limits_changed`, `key.created`, `key.revoked`,
`wallet.adjusted`, `wallet.redeemed`, `codes.created`, `codes.revoked`, `plan.created`,
`plan.changed`, `plan.assigned`, `price.changed`, `channel.changed`. A failed write is logged
and never fails the action it records (the action already happened).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

from starlette.requests import HTTPConnection

from thinkgate.store.audit import AuditEntry, AuditFilter, AuditRepository
from thinkgate.store.database import Database

log = logging.getLogger(__name__)

MAX_DETAIL_CHARS = 4000
CSV_COLUMNS = ("id", "time", "actor", "ip", "action", "target", "detail")


async def record(
    database: Database,
    action: str,
    *,
    actor: str | None = None,
    ip: str | None = None,
    target: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Append one event. Never raises: an action that happened is not undone by its log."""
    entry = AuditEntry(
        created_at=int(time.time()),
        actor_id=actor[:64] if actor else None,
        ip=ip[:64] if ip else None,
        action=action[:64],
        target=target[:200] if target else None,
        detail=_bounded(detail),
    )
    try:
        await AuditRepository(database).append(entry)
    except Exception:
        log.exception("could not write the audit event %s (actor %s)", action, actor)


def client_ip(connection: HTTPConnection) -> str | None:
    """The client as uvicorn resolved it (through `trusted_proxies` only)."""
    return connection.client.host if connection.client is not None else None


async def search(
    database: Database, where: AuditFilter, *, limit: int, offset: int = 0
) -> list[dict[str, Any]]:
    entries = await AuditRepository(database).search(where, limit=limit, offset=offset)
    return [view(entry) for entry in entries]


def view(entry: AuditEntry) -> dict[str, Any]:
    return {
        "object": "audit.event",
        "id": entry.id,
        "created_at": entry.created_at,
        "actor_id": entry.actor_id,
        "ip": entry.ip,
        "action": entry.action,
        "target": entry.target,
        "detail": entry.detail or {},
    }


def to_csv(events: Iterable[Mapping[str, Any]]) -> str:
    """Events as CSV; a cell starting with = + - @ gets a leading ' (no spreadsheet formulas)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for event in events:
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(event["created_at"])))
        detail = json.dumps(event["detail"], sort_keys=True) if event["detail"] else ""
        row = [event["id"], when, event["actor_id"], event["ip"], event["action"]]
        writer.writerow([safe_cell(v) for v in [*row, event["target"], detail]])
    return out.getvalue()


def safe_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _bounded(detail: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """What changed, never more than MAX_DETAIL_CHARS of JSON (a huge field is cut)."""
    if not detail:
        return None
    data = {str(k): v for k, v in detail.items()}
    text = json.dumps(data, default=str)
    if len(text) <= MAX_DETAIL_CHARS:
        plain: dict[str, Any] = json.loads(text)  # JSON-safe: what the column stores
        return plain
    return {"truncated": text[:MAX_DETAIL_CHARS]}


async def record_config_changes(database: Database, prices: Any, channels: Any) -> None:
    """Prices and channels are set in the config file: a start that finds them changed
    since the last recorded state writes `price.changed` / `channel.changed` (actor
    `system`) with the new state, so the audit log shows when they changed. Replicas
    starting together may each write it once; harmless."""
    for action, state in (("price.changed", prices), ("channel.changed", channels)):
        current = json.loads(json.dumps(state, default=str, sort_keys=True))
        last = await AuditRepository(database).search(AuditFilter(action=action), limit=1)
        if (last[0].detail or {}).get("state") == current if last else not current:
            continue
        await record(database, action, actor="system", detail={"state": current})
