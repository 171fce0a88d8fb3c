"""What every route needs from the application: the store, the settings, the FHIR base URL, the job queue
and the files asynchronous requests leave behind."""

from __future__ import annotations

from datetime import timedelta

from fastapi import Request

from ..config import Settings
from ..storage import ResourceStore
from ..storage.files import MongoFileStore
from ..storage.jobs import MongoJobStore


def store_of(request: Request) -> ResourceStore:
    store: ResourceStore = request.app.state.store
    return store


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def base_url(request: Request) -> str:
    """The FHIR base as clients reach it: the configured one, else derived from the request."""
    configured = settings_of(request).base_url
    if configured:
        return configured.rstrip("/")
    return f"{str(request.base_url).rstrip('/')}/fhir"


def jobs_of(request: Request) -> MongoJobStore:
    jobs: MongoJobStore = request.app.state.jobs
    return jobs


def files_of(request: Request) -> MongoFileStore:
    files: MongoFileStore = request.app.state.files
    return files


def export_ttl(request: Request) -> timedelta:
    """How long a finished asynchronous job (a bulk or a view export) and its files are kept."""
    return timedelta(seconds=settings_of(request).export_ttl_seconds)
