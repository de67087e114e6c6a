# SPDX-License-Identifier: Apache-2.0
"""The only wiring point: storage, services, policy, middleware and routes."""

from __future__ import annotations

import itertools
import logging
import time
from typing import Any

import falcon

from freezer_api import jsonfast, metrics, search
from freezer_api.api import errors as api_errors
from freezer_api.api import middleware, pipeline, routes
from freezer_api.api.resources import ApiVersion, Limits, Parts
from freezer_api.config import Settings, build_conf, ignored_options
from freezer_api.keystone import Trusts
from freezer_api.policy import Policy
from freezer_api.service import gauges, stale
from freezer_api.service.documents import Clock, Wiring
from freezer_api.service.liveness import Liveness
from freezer_api.storage import open_backend
from freezer_api.storage.base import Backend, Storage, StorageUnavailable
from freezer_api.storage.sql.engine import masked_url

LOG = logging.getLogger(__name__)


def storage_options(settings: Settings) -> dict[str, Any]:
    return {
        "pool_size": settings.pool_size,
        "max_overflow": settings.max_overflow,
        "pool_timeout": settings.pool_timeout,
        "pool_recycle": settings.pool_recycle,
        "sqlite_synchronous": settings.sqlite_synchronous,
        "wsrep_sync_wait": settings.wsrep_sync_wait,
    }


def create_falcon_app(
    settings: Settings,
    storage: Storage,
    policy: Policy,
    *,
    clock: Clock = time.time,
    versions: tuple[ApiVersion, ...] = routes.VERSIONS,
    liveness: Liveness | None = None,
    conf: Any = None,
) -> falcon.App[Any, Any]:
    """Build the falcon application (without the WSGI middleware around it)."""
    identity: Any = (
        middleware.KeystoneIdentity()
        if settings.auth_strategy == "keystone"
        else middleware.NoauthIdentityMiddleware(settings.noauth)
    )
    if liveness is None:
        liveness = Liveness(settings.alive_seconds, settings.lease_seconds, clock)
    hooks: list[Any] = [
        metrics.RequestMetrics(),
        middleware.RequireJSON(),
        middleware.RefuseNul(),
        identity,
    ]
    if settings.fail_stale:
        hooks.append(stale.StaleJobSweeper(storage, liveness))
    app: falcon.App[Any, Any] = falcon.App(middleware=hooks)
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
    if conf is None:
        conf = settings.conf if settings.conf is not None else build_conf([], config_files=False)
    wiring = Wiring(
        trusts, clock, settings.protect_chains, liveness, text_search=search.text_search(conf)
    )
    parts = Parts(storage, limits, policy, wiring)
    routes.add_routes(app, parts, versions)
    if settings.dashboard:
        from freezer_api import dashboard

        dashboard.add_routes(
            app,
            parts,
            next(version.kinds for version in versions if version.id == "v2"),
            page_size=settings.dashboard_page_size,
            keystone=settings.auth_strategy == "keystone",
            conf=conf,
        )
    return app


def create_app(
    settings: Settings,
    storage: Storage | None = None,
    *,
    clock: Clock = time.time,
    versions: tuple[ApiVersion, ...] = routes.VERSIONS,
) -> Any:
    """Return the WSGI application: the falcon app inside the configured paste pipeline.

    ``clock`` tells the time where the rules depend on it (session hold-off, job creation);
    ``versions``, the API versions and their kinds (``routes.VERSIONS``).
    """
    conf = settings.conf if settings.conf is not None else build_conf([], config_files=False)
    if storage is None:
        storage = backend(settings).open()
    policy = Policy(conf, routes.policy_rules(versions))
    policy.load()
    liveness = Liveness(settings.alive_seconds, settings.lease_seconds, clock)
    falcon_app = create_falcon_app(
        settings, storage, policy, clock=clock, versions=versions, liveness=liveness, conf=conf
    )
    catalogue = metrics.Catalogue(
        gauges.CatalogueGauges(storage, liveness, clock, conf.metrics.max_sets).read,
        conf.metrics.catalogue_seconds,
    )
    server_metrics = metrics.server_metrics()
    wrapped = pipeline.WholeBody(
        pipeline.load(
            settings.paste_config,
            settings.auth_strategy,
            conf,
            falcon_app,
            storage.ping,
            lambda: server_metrics.exposition(catalogue),
        ),
        settings.max_body_size,
    )

    def application(environ: dict[str, Any], start_response: Any) -> Any:
        return wrapped(environ, start_response)

    return application


def check_wiring(settings: Settings) -> None:
    """Load the policy rules and the paste pipeline as a worker will, without serving.

    Called before any worker forks, so that a broken policy or paste file, or a pipeline
    that names an unknown filter, stops the server once with one message.
    """
    conf = settings.conf if settings.conf is not None else build_conf([], config_files=False)
    policy = Policy(conf, routes.policy_rules())
    try:
        policy.load()
    except Exception as error:  # noqa: BLE001 - oslo.policy and YAML raise several kinds
        raise ValueError(
            f"[oslo_policy] policy_file {conf.oslo_policy.policy_file}: {_one_line(error)}"
        ) from None

    def unused(environ: dict[str, Any], start_response: Any) -> Any:
        raise AssertionError("the pipeline is only loaded here")

    try:
        pipeline.load(settings.paste_config, settings.auth_strategy, conf, unused, lambda: None)
    except Exception as error:  # noqa: BLE001 - PasteDeploy raises several kinds
        where = settings.paste_config or "the packaged api-paste.ini"
        raise ValueError(f"[paste_deploy] config_file {where}: {_one_line(error)}") from None


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def backend(settings: Settings) -> Backend:
    """The storage backend of ``settings``' database."""
    return open_backend(settings.database_url, storage_options(settings))


def prepare_database(settings: Settings, *, sleep: Any = time.sleep) -> None:
    """Create/upgrade an embedded SQLite schema, or check that another engine's is current.

    A database that cannot be reached is tried again, ``[database] max_retries`` times
    ``retry_interval`` seconds apart (a Galera node still joining its cluster, a database
    starting after the API), each failure said in one line.
    """
    database = backend(settings)
    for attempt in itertools.count(1):
        try:
            database.prepare(create=settings.sync_on_start)
            return
        except StorageUnavailable as error:
            if 0 <= settings.max_retries < attempt:
                raise
            of = "of ever" if settings.max_retries < 0 else f"of {settings.max_retries}"
            LOG.warning(
                "%s; trying again in %d s (retry %d %s)",
                error,
                settings.retry_interval,
                attempt,
                of,
            )
            sleep(settings.retry_interval)


def log_start(settings: Settings) -> None:
    """Say what the server reads: its configuration files, its database, what it ignores."""
    LOG.info(
        "configuration files: %s; database: %s",
        ", ".join(settings.config_files) or "none (the defaults)",
        masked_url(settings.database_url),
    )
    if settings.conf is not None:
        for line in ignored_options(settings.conf):
            LOG.warning(line)
