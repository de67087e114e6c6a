# SPDX-License-Identifier: Apache-2.0
"""The only wiring point: storage, services, policy, middleware and routes."""

from __future__ import annotations

from typing import Any

import falcon

from freezer_api import jsonfast
from freezer_api.api import errors as api_errors
from freezer_api.api import middleware, pipeline, routes
from freezer_api.api.resources import Limits
from freezer_api.config import Settings, build_conf
from freezer_api.keystone import Trusts
from freezer_api.policy import Policy
from freezer_api.service.actions import ActionRules
from freezer_api.service.backups import BackupRules, BackupV1Rules
from freezer_api.service.clients import ClientRules
from freezer_api.service.documents import DocumentService
from freezer_api.service.jobs import JobRules, TrustProvider
from freezer_api.service.sessions import SessionRules
from freezer_api.storage import open_storage
from freezer_api.storage.base import Storage
from freezer_api.storage.sql import migrate


def storage_options(settings: Settings) -> dict[str, Any]:
    return {
        "pool_size": settings.pool_size,
        "max_overflow": settings.max_overflow,
        "pool_timeout": settings.pool_timeout,
        "sqlite_synchronous": settings.sqlite_synchronous,
    }


def build_services(
    storage: Storage, trusts: TrustProvider | None = None
) -> dict[str, DocumentService]:
    """One service per API version and kind; v1 and v2 differ for backups and clients."""
    shared = {"jobs": JobRules(trusts), "actions": ActionRules(), "sessions": SessionRules()}
    services = {
        "v1/backups": DocumentService(BackupV1Rules(), storage),
        "v2/backups": DocumentService(BackupRules(), storage),
        "v1/clients": DocumentService(ClientRules(reregister_updates=False), storage),
        "v2/clients": DocumentService(ClientRules(reregister_updates=True), storage),
    }
    for plural, rules in shared.items():
        services[f"v1/{plural}"] = services[f"v2/{plural}"] = DocumentService(rules, storage)
    return services


def create_falcon_app(settings: Settings, storage: Storage, policy: Policy) -> falcon.App[Any, Any]:
    """Build the falcon application (without the WSGI middleware around it)."""
    identity: Any = (
        middleware.KeystoneIdentity()
        if settings.auth_strategy == "keystone"
        else middleware.NoauthIdentityMiddleware(settings.noauth)
    )
    app: falcon.App[Any, Any] = falcon.App(
        middleware=[middleware.RequireJSON(), middleware.RefuseNul(), identity]
    )
    app.resp_options.media_handlers[falcon.MEDIA_JSON] = falcon.media.JSONHandler(
        dumps=jsonfast.dumps_bytes, loads=jsonfast.loads
    )
    app.req_options.strip_url_path_trailing_slash = True
    app.req_options.auto_parse_qs_csv = False
    api_errors.install(app)
    limits = Limits(settings.default_limit, settings.max_limit, settings.max_body_size)
    trusts = None
    if settings.auth_strategy == "keystone" and settings.central_trusts and settings.conf:
        conf = settings.conf
        trusts = Trusts(
            conf,
            conf.centralized_scheduler.auth_section,
            conf.centralized_scheduler.trusts_delegated_roles,
        )
    routes.add_routes(app, build_services(storage, trusts), storage, limits, policy)
    return app


def create_app(settings: Settings, storage: Storage | None = None) -> Any:
    """Return the WSGI application: the falcon app inside the configured paste pipeline."""
    conf = settings.conf if settings.conf is not None else build_conf([], config_files=False)
    if storage is None:
        storage = open_storage(settings.database_url, storage_options(settings))
    policy = Policy(conf)
    policy.load()
    falcon_app = create_falcon_app(settings, storage, policy)
    wrapped = pipeline.UnreadBodyDrain(
        pipeline.load(settings.paste_config, settings.auth_strategy, conf, falcon_app),
        settings.max_body_size,
    )

    def application(environ: dict[str, Any], start_response: Any) -> Any:
        return wrapped(environ, start_response)

    return application


def prepare_database(settings: Settings) -> None:
    """Create/upgrade an embedded SQLite schema, or check that another engine's is current."""
    migrate.prepare(
        settings.database_url, storage_options(settings), sync_sqlite=settings.sync_on_start
    )
