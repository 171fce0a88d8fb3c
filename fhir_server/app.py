"""The ASGI application: FastAPI with the FHIR routes under /fhir, on a MongoDB store."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI

from .config import Settings
from .engine.bulk_export import export_worker
from .engine.bulk_import import import_worker
from .engine.reindex import reindex_worker, upgrade_search_layout
from .engine.search_parameters import keep_registry_fresh, load_search_parameters
from .logs import configure_logging
from .rest import RequestContextMiddleware, fhir_router, health, install_error_handlers, served_interactions
from .search.registry import default_registry
from .storage import MongoResourceStore
from .storage.files import MongoFileStore
from .storage.jobs import MongoJobStore

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> FastAPI:
    """Build the application; the database connection opens and indexes are ensured at startup."""
    if not settings.mongodb_uri:
        raise ValueError("create_app needs settings.mongodb_uri; the CLI starts the embedded database first")
    uri = settings.mongodb_uri

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = MongoResourceStore.connect(uri, settings.database)
        await store.ensure_indexes()
        jobs = MongoJobStore(store.client, settings.database)
        await jobs.ensure_indexes()
        files = MongoFileStore(store.client, settings.database)
        await files.ensure_indexes()
        await upgrade_search_layout(store, jobs)
        registry = default_registry()
        registry.layout_changed_at = await store.search_layout_changed()
        await load_search_parameters(store, registry)
        app.state.store, app.state.jobs, app.state.files = store, jobs, files
        background = [
            asyncio.create_task(keep_registry_fresh(store, jobs, registry)),
            asyncio.create_task(reindex_worker(store, jobs)),
            asyncio.create_task(export_worker(store, jobs, files, timedelta(seconds=settings.export_ttl_seconds))),
            asyncio.create_task(import_worker(store, jobs, files)),
        ]
        try:
            yield
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            await store.close()

    app = FastAPI(
        title="fhir-server",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.interactions = served_interactions()
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware)
    app.include_router(health.router)
    app.include_router(fhir_router(), prefix="/fhir")
    return app


def app_from_env() -> FastAPI:
    """Factory for uvicorn workers: settings arrive through `FHIR_*` variables."""
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    return create_app(settings)
