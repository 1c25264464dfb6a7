"""`/healthz` (the process answers), `/readyz` (it can serve: database, schema, engine,
Redis) and `/metrics` (Prometheus text). Outside the OpenAI-compatible schema."""

from __future__ import annotations

import asyncio
import hmac
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from thinkgate.api.deps import ServicesDep
from thinkgate.api.json import JSONResponse
from thinkgate.errors import AuthenticationError, PermissionDeniedError
from thinkgate.gateway.counter_outage import GuardedCounters
from thinkgate.gateway.outage_stats import describe
from thinkgate.ops.checks import Check, database_check, migrations_check
from thinkgate.ops.metrics import CONTENT_TYPE

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request, services: ServicesDep) -> Response:
    counters = services.gateway.counters
    guarded = counters if isinstance(counters, GuardedCounters) else None
    checks = await asyncio.gather(
        database_check(services.database),
        migrations_check(services.database),
        *([_redis_check(guarded)] if guarded is not None else []),
    )
    results = [*checks, _engine_check(services), _drain_check(request)]
    ready = all(check.ok for check in results)
    degraded = guarded is not None and guarded.stats.down_since is not None
    body: dict[str, Any] = {
        "status": "not_ready" if not ready else "degraded" if degraded else "ready",
        "checks": {check.name: {"ok": check.ok, "detail": check.detail} for check in results},
    }
    if guarded is not None:
        body["shared_counters"] = describe(guarded.stats)
    return JSONResponse(body, status_code=200 if ready else 503)


async def _redis_check(counters: GuardedCounters) -> Check:
    """Redis down is `degraded`, not unready: every replica shares the outage, so taking
    them out of the load balancer would refuse what needs no Redis too. What budgets and
    rate limits get meanwhile (`redis_outage`) is in the detail and `shared_counters`."""
    stats = await counters.probe()
    if stats.down_since is None:
        return Check("redis", True, "shared counters in Redis")
    if stats.mode == "fail_closed":
        return Check("redis", True, "unreachable: budgets and rate limits refused (fail_closed)")
    return Check("redis", True, "unreachable: budgets and rate limits counted per replica")


@router.get("/metrics")
async def metrics(request: Request, services: ServicesDep) -> Response:
    if services.settings.metrics_auth == "admin":
        await _require_admin(request, services)
    exporter = request.app.state.metrics
    exporter.catch_up()  # on the event loop: the ledger's rows settled since its last pass
    body = await asyncio.to_thread(exporter.render)
    return Response(body, media_type=CONTENT_TYPE)


async def _require_admin(request: Request, services: ServicesDep) -> None:
    """An admin API key, or the scrape token from the settings (Prometheus' bearer_token)."""
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    presented = presented.strip()
    if scheme.lower() != "bearer" or not presented:
        raise AuthenticationError("/metrics needs an admin API key (Authorization: Bearer).")
    token = services.settings.metrics_token
    if token is not None and hmac.compare_digest(
        presented.encode(), token.get_secret_value().encode()
    ):
        return
    client = request.client.host if request.client is not None else None
    key = await services.gateway.authenticate(presented, client)
    if not key.is_admin:
        raise PermissionDeniedError(
            "/metrics needs an admin API key.", code="insufficient_permissions"
        )


def _engine_check(services: ServicesDep) -> Check:
    try:
        _, backend = services.registry.resolve("gpt-5.1")
    except Exception:
        return Check("engine", True, "gpt-5.1 is not served")
    health = backend.health()
    return Check("engine", health.ready, f"{backend.name} {health.detail}")


def _drain_check(request: Request) -> Check:
    draining = request.app.state.drain.draining
    return Check("shutdown", not draining, "draining" if draining else "serving")
