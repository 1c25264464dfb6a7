"""`create_app(settings)`: routes, middleware, and the lifespan that opens and closes
the database, the key ring and the models."""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.telemetry import TelemetryConfig

from thinkgate import __version__
from thinkgate.api import admin as admin_api
from thinkgate.api import admin_billing as admin_billing_api
from thinkgate.api import admin_prompts as admin_prompts_api
from thinkgate.api import chat as chat_api
from thinkgate.api import compact as compact_api
from thinkgate.api import containers as containers_api
from thinkgate.api import conversations as conversations_api
from thinkgate.api import embeddings as embeddings_api
from thinkgate.api import files as files_api
from thinkgate.api import health as health_api
from thinkgate.api import internal as internal_api
from thinkgate.api import models as models_api
from thinkgate.api import responses as responses_api
from thinkgate.api import responses_ws
from thinkgate.api import vector_store_batches as vector_store_batches_api
from thinkgate.api import vector_store_search as vector_store_search_api
from thinkgate.api import vector_stores as vector_stores_api
from thinkgate.api.deps import Services
from thinkgate.api.errors import install_error_handlers
from thinkgate.api.gateway_headers import GatewayHeaders
from thinkgate.api.generation import PlainRoute
from thinkgate.api.limits import BodySizeLimit
from thinkgate.api.observe import Observe
from thinkgate.api.openapi import document
from thinkgate.api.query import single_valued_query
from thinkgate.backends.registry import ModelRegistry, channel_states
from thinkgate.config import Settings
from thinkgate.console import install_console
from thinkgate.engine.background import BackgroundJobs
from thinkgate.engine.pipeline import ResponsesPipeline
from thinkgate.files.setup import open_files
from thinkgate.gateway.service import Gateway
from thinkgate.gateway.setup import open_gateway
from thinkgate.gateway.storage_charges import StorageCharges
from thinkgate.hosted import HostedTool, hosted_tools_for
from thinkgate.hosted.code_interpreter import code_interpreter_for
from thinkgate.hosted.file_search import file_search_for
from thinkgate.net import UrlPolicy
from thinkgate.ops import Drain, Metrics, ScrapeSources
from thinkgate.reasoning import planner_for
from thinkgate.replicas.setup import open_background_jobs
from thinkgate.retrieval.embedders import Embedders
from thinkgate.retrieval.embedding_models import EmbeddingModels
from thinkgate.retrieval.open import open_chunk_index
from thinkgate.store import (
    ConversationRepository,
    Database,
    ResponseEventRepository,
    ResponseRepository,
)

log = logging.getLogger(__name__)


def _opentelemetry() -> TelemetryConfig:
    """FastAPI's own OpenTelemetry spans and metrics only where OpenTelemetry is set up
    (the standard OTEL_* environment): otherwise it asks the global providers on every
    request whether they are configured (about 20 µs), and /metrics covers the same."""
    wanted = any(
        os.environ.get(name)
        for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER")
    )
    return {"tracing": wanted, "metrics": wanted, "logs": wanted}


def create_app(settings: Settings) -> FastAPI:
    # /docs is served by the console with local Swagger UI assets (works offline); no ReDoc
    app = FastAPI(
        title="thinkgate",
        version=__version__,
        lifespan=_lifespan(settings),
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(single_valued_query)],
        telemetry=_opentelemetry(),
    )
    install_error_handlers(app)
    # The two generation routes, first: plain Starlette routes, no per-request dependency
    # solving (api/generation.py); api/openapi.py documents them like the others
    app.router.routes += [
        PlainRoute("/v1/responses", responses_api.create_response, methods=["POST"]),
        PlainRoute("/v1/chat/completions", chat_api.create_chat_completion, methods=["POST"]),
    ]
    app.include_router(compact_api.router)
    app.include_router(responses_api.router)
    # WebSocket mode on the same path (a plain route: no HTTP dependencies apply)
    app.router.add_websocket_route("/v1/responses", responses_ws.responses_websocket)
    app.include_router(conversations_api.router)
    app.include_router(models_api.router)
    app.include_router(embeddings_api.router)
    app.include_router(vector_store_search_api.router)
    app.include_router(internal_api.router)
    app.include_router(admin_api.router)
    app.include_router(admin_api.owner_router)
    app.include_router(admin_prompts_api.router)
    app.include_router(files_api.router)
    app.include_router(files_api.admin_router)
    app.include_router(containers_api.router)
    app.include_router(vector_stores_api.router)
    app.include_router(vector_store_batches_api.router)
    app.include_router(admin_billing_api.router)
    app.include_router(admin_billing_api.owner_router)
    install_console(app)
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        max_header_bytes=settings.security.max_header_bytes,
        upload_bytes=settings.files.max_file_bytes + 64 * 1024,
    )
    app.add_middleware(GatewayHeaders)
    app.state.metrics, app.state.drain = Metrics(), Drain()
    app.include_router(health_api.router)
    app.add_middleware(
        Observe,
        metrics=app.state.metrics,
        drain=app.state.drain,
        access_log=settings.access_log,
    )
    document(app)
    app.state.url_policy = UrlPolicy.from_config(
        settings.security.allow_private_urls, settings.security.allowed_networks
    )

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
        registry = ModelRegistry(settings)
        gateway, admin = await open_gateway(settings, database, registry)
        responses = ResponseRepository(database)
        conversations = ConversationRepository(database)
        response_events = ResponseEventRepository(database)
        embedders = Embedders(settings.files.embedding_model)  # new stores'; each keeps its own
        app.state.chunk_index = chunks = await open_chunk_index(database, embedders)
        searches: list[HostedTool] = [file_search_for(chunks, database)]
        app.state.containers, interpreters = await code_interpreter_for(settings, database)
        app.state.embedding_models = EmbeddingModels(settings, embedders)
        extra = [*searches, *interpreters]
        hosted = hosted_tools_for(settings, app.state.url_policy, extra=extra)  # web search…
        pipeline = ResponsesPipeline(
            registry, responses, conversations, reasoning=planner_for(settings), hosted=hosted
        )
        jobs, close_jobs = await open_background_jobs(
            settings, database, pipeline, gateway, responses, response_events
        )
        app.state.files, close_files = await open_files(settings, database, chunks)
        app.state.storage_charges = storage_charges = StorageCharges(
            database, app.state.files.usage, gateway, every_s=settings.files.storage_charge_seconds
        )  # finished days of storage onto the ledger
        storage_charges.start()
        app.state.services = Services(
            settings=settings,
            database=database,
            keys=gateway.keys,
            registry=registry,
            responses=responses,
            pipeline=pipeline,
            conversations=conversations,
            response_events=response_events,
            jobs=jobs,
            gateway=gateway,
            admin=admin,
        )
        _, default_backend = registry.resolve("gpt-5.1")
        await default_backend.load()  # the first request should not pay for opening the model
        _watch(app, registry, jobs, gateway)
        # Everything built at startup (modules, schemas, routes, the model) moves out of
        # the collector's generations: a full collection then walks only what requests
        # allocate (measured: ~0.27 ms of CPU per proxied request before, ~0 after).
        gc.freeze()
        try:
            yield
        finally:
            # uvicorn has waited out the grace period and cancelled what was left: give
            # the cancelled streams a moment to settle (bill) before the ledger's last flush.
            await app.state.drain.wait_idle(5.0)
            await close_jobs()  # jobs stop (shared queue: handed back), then the queue
            await registry.aclose()
            await hosted.aclose()
            await app.state.containers.aclose()
            await storage_charges.aclose()
            await close_files()  # ingestion stops; its files resume at the next start
            await chunks.aclose()
            await app.state.embedding_models.aclose()
            await gateway.aclose()  # flushes the ledger: nothing billed is lost on a clean stop
            await database.aclose()

    return lifespan


def _watch(app: FastAPI, registry: ModelRegistry, jobs: BackgroundJobs, gateway: Gateway) -> None:
    """Point /metrics at what it reads at scrape time, and at each settled request."""
    metrics: Metrics = app.state.metrics
    gateway.ledger.observer = metrics.observe_entry
    metrics.catch_up = gateway.ledger.observe_pending
    backends = registry.backends()
    metrics.sources = ScrapeSources(
        cache=registry.prompt_cache.snapshot,
        breakers=lambda: channel_states(registry),
        queues={
            "local_engine": lambda: sum(backend.queue_depth() for backend in backends),
            "background_jobs": lambda: jobs.active,
            "ledger": lambda: gateway.ledger.pending,
        },
        shared_counters=getattr(gateway.counters, "snapshot", None),  # with Redis only
    )
