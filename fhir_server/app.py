"""The ASGI application: FastAPI with the FHIR routes under /fhir, on a MongoDB store."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import Depends, FastAPI

from adapters.hl7v2 import ListenerSettings, start_listener
from adapters.hl7v2.admin import router as hl7_admin_router
from adapters.hl7v2.outbound import sender_settings, start_sending

from .audit.key import load_audit_key
from .audit.queue import AuditQueue
from .audit.requests import AuditMiddleware
from .audit.routes import router as audit_router
from .audit.writes import audit_writes
from .auth.roles import load_roles
from .config import Settings
from .demo_app import mount_demo_app, register_demo_app
from .duties import MLLP, SERVER, DutyContext, applicable, start_duties
from .duties.registry import DUTIES
from .engine.observers import add_write_observer, remove_write_observer
from .engine.reindex import upgrade_search_layout
from .engine.rules import load_rule_modules
from .engine.search_parameters import load_search_parameters
from .formats.middleware import FormatMiddleware
from .garbage import settle_collector
from .i18n import load_catalogs
from .logs import configure_logging
from .medications.prescribing.cds_hooks import router as cds_hooks_router
from .medications.prescribing.keys_route import router as prescriber_keys_router
from .medications.prescribing.knowledge import install_knowledge
from .oauth.cors import PathCorsMiddleware
from .oauth.errors import install_oauth_errors
from .oauth.routes import oauth_router
from .oauth.server_base import record_server_base
from .oauth.state import open_oauth
from .pages import PageStores, pages_router
from .reminders.calendar import router as calendar_router
from .reminders.config import configure as configure_reminders
from .rest import (
    DirectReadMiddleware,
    RequestContextMiddleware,
    fhir_router,
    health,
    install_error_handlers,
    served_interactions,
)
from .rest.access import admin_policy
from .rest.health import DatabaseWatch
from .search.registry import default_registry
from .staff import STAFF_PAGES, register_staff_client, staff_router
from .storage.database import Database
from .storage.leases import new_worker
from .tasks import stop_tasks
from .views.export_routes import router as views_export_router

log = logging.getLogger(__name__)

AUTH_MODES = ("smart", "open")


def create_app(settings: Settings, roles: dict[str, list[str]] | None = None) -> FastAPI:
    """Build the application; the database connection opens and indexes are ensured at startup.

    `roles` are the roles already loaded from `settings.roles_file` (by `serve`); None loads them here.

    With `settings.mllp_port` the HL7 v2 MLLP listener runs in the same process (each worker
    listens on the port with SO_REUSEPORT, so the kernel spreads the lab connections).
    """
    if not settings.mongodb_uri:
        raise ValueError("create_app needs settings.mongodb_uri; the CLI starts the embedded database first")
    if settings.auth not in AUTH_MODES:
        raise ValueError(f"auth must be one of {', '.join(AUTH_MODES)}, not {settings.auth!r}")
    roles = load_roles(settings.roles_file) if roles is None else roles
    load_rule_modules(settings.rule_modules)
    configure_reminders(settings)  # a bad rules file stops the start here, not the first booking
    install_knowledge(settings.prescribing_knowledge_file)  # a broken knowledge file stops the start here
    load_catalogs()  # a broken catalog stops the start here, not the first request in that language
    audit_key = load_audit_key(settings, create=True)  # before serving: a missing key is made, a bad one stops

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as opened:  # a startup failing half way closes what it opened
            await _open(app, opened)
            settle_collector()
            yield

    async def _open(app: FastAPI, opened: AsyncExitStack) -> None:
        database = await opened.enter_async_context(Database.open(settings, audit_key))
        store, jobs, files, audit, grants = (
            database.resources,
            database.jobs,
            database.files,
            database.audit,
            database.grants,
        )
        add_write_observer(observe_writes := audit_writes(audit))
        opened.callback(remove_write_observer, observe_writes)
        await register_staff_client(database.clients, settings)
        if settings.demo_app:
            await register_demo_app(database.clients, settings)
        if settings.auth == "open":
            log.warning(
                "AUTHORIZATION IS OFF (auth=open): anyone who can reach this server may read and change "
                "every record. This mode is for development only; use auth=smart for real data."
            )
        await upgrade_search_layout(store, jobs)
        registry = default_registry()
        registry.layout_changed_at = await store.search_layout_changed()
        await load_search_parameters(store, registry)
        app.state.database = database
        app.state.store, app.state.jobs, app.state.files, app.state.audit = store, jobs, files, audit
        duties = DutyContext(database, settings, new_worker())
        app.state.audit_queue = audit_queue = AuditQueue(audit, duties.worker)  # the audit-seal duty's sealer too
        opened.push_async_callback(audit_queue.flush)
        app.state.grants, app.state.roles = grants, roles
        app.state.oauth = await open_oauth(database)
        await record_server_base(database.server_address, settings)
        app.state.pages = PageStores.of(database, roles, settings)
        if settings.mllp_port is not None:  # first: a port in use stops the startup before any background work
            mllp = await start_listener(database, ListenerSettings.from_settings(settings))
            opened.push_async_callback(_close, mllp)
        app.state.database_watch = watch = DatabaseWatch(settings.database_down_seconds)
        runs = {SERVER, MLLP} if settings.mllp_port is not None else {SERVER}
        # The watch and the audit queue belong to objects the routes use (health, the audit middleware), and the
        # sender's order observer must be registered before the first write: plain tasks, not duties.
        background = [
            asyncio.create_task(watch.run(store)),
            asyncio.create_task(audit_queue.run()),
            *start_duties(applicable(DUTIES, runs, settings), duties),
        ]
        opened.push_async_callback(stop_tasks, background)
        if settings.hl7_outbound:
            background.append(start_sending(database, sender_settings(settings)))

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
    install_oauth_errors(app)
    app.add_middleware(DirectReadMiddleware)  # innermost: inside the request id, audit, CORS and format layers
    app.add_middleware(FormatMiddleware)
    app.add_middleware(PathCorsMiddleware)
    app.add_middleware(AuditMiddleware)
    app.add_middleware(RequestContextMiddleware)
    app.include_router(health.router)
    administrators = [Depends(admin_policy)]
    app.include_router(hl7_admin_router, prefix="/admin/hl7", dependencies=administrators)
    app.include_router(audit_router, prefix="/admin", dependencies=administrators)
    app.include_router(oauth_router())
    app.include_router(prescriber_keys_router)
    app.include_router(cds_hooks_router)
    app.include_router(fhir_router(), prefix="/fhir")
    app.include_router(views_export_router, prefix="/fhir")
    if settings.demo_app:
        mount_demo_app(app, settings.demo_app)
    app.include_router(pages_router())
    app.include_router(staff_router(STAFF_PAGES))
    app.include_router(calendar_router)
    return app


async def _close(server: asyncio.Server) -> None:
    server.close()
    await server.wait_closed()


def app_from_env() -> FastAPI:
    """Factory for uvicorn workers: settings arrive through `FHIR_*` variables."""
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    return create_app(settings)
