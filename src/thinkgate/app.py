"""`create_app(settings)`: routes, middleware, and the lifespan that opens and closes
the database, the key ring and the models."""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from thinkgate import __version__
from thinkgate.api import chat as chat_api
from thinkgate.api import models as models_api
from thinkgate.api import responses as responses_api
from thinkgate.api.deps import Services
from thinkgate.api.errors import install_error_handlers
from thinkgate.api.limits import BodySizeLimit
from thinkgate.backends.registry import ModelRegistry
from thinkgate.config import Settings
from thinkgate.engine.pipeline import ResponsesPipeline
from thinkgate.gateway.keys import KeyRing
from thinkgate.store import Database, KeyRepository, ResponseRepository

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> FastAPI:
    app = FastAPI(title="thinkgate", version=__version__, lifespan=_lifespan(settings))
    install_error_handlers(app)
    app.include_router(responses_api.router)
    app.include_router(models_api.router)
    app.include_router(chat_api.router)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _lifespan(settings: Settings):  # type: ignore[no-untyped-def]
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        database = Database(settings.resolved_database_url)
        await database.migrate()
        keys = KeyRing(KeyRepository(database))
        await keys.refresh()
        await _bootstrap_admin_key(settings, keys)
        registry = ModelRegistry(settings)
        responses = ResponseRepository(database)
        app.state.services = Services(
            settings=settings,
            database=database,
            keys=keys,
            registry=registry,
            responses=responses,
            pipeline=ResponsesPipeline(registry, responses),
        )
        _, default_backend = registry.resolve("gpt-5.1")
        load = getattr(default_backend, "load", None)
        if load is not None:
            await load()  # the first request should not pay for opening the model
        try:
            yield
        finally:
            await registry.aclose()
            await database.aclose()

    return lifespan


async def _bootstrap_admin_key(settings: Settings, keys: KeyRing) -> None:
    """THINKGATE_ADMIN_KEY is stored (hashed); without it, the first start makes one and
    prints it once, to the terminal only, never to the log."""
    if settings.admin_key is not None:
        await keys.create("admin", is_admin=True, key=settings.admin_key.get_secret_value())
        return
    if await keys.has_admin():
        return
    secret = await keys.create("admin", is_admin=True)
    print(
        f"\nthinkgate: created the admin API key (shown only this once, stored hashed):\n\n"
        f"    {secret}\n\nUse it as `Authorization: Bearer <key>`.\n",
        file=sys.stderr,
        flush=True,
    )
