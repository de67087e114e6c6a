# SPDX-License-Identifier: Apache-2.0
"""Configuration: oslo.config options, read once into a frozen ``Settings``.

This is the only module that reads configuration files or the environment.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import platformdirs
from keystoneauth1 import loading as ks_loading
from keystonemiddleware import auth_token
from oslo_config import cfg
from oslo_middleware import opts as middleware_opts

from freezer_api import version

#: Searched in this order when no ``--config-file`` is given; the first is the seed's path.
DEFAULT_CONFIG_FILES = ("/etc/freezer-api.conf", "/etc/freezer/freezer-api.conf")


def default_database_url() -> str:
    """Return the SQLite URL used when ``[database] connection`` is not set."""
    data_dir = Path(platformdirs.user_data_dir("freezer-api"))
    return f"sqlite:///{data_dir / 'freezer-api.db'}"


default_opts = [
    cfg.HostAddressOpt(
        "bind-host", dest="bind_host", default="127.0.0.1", help="Address the API listens on."
    ),
    cfg.PortOpt("bind-port", dest="bind_port", default=9090, help="Port the API listens on."),
    cfg.IntOpt(
        "workers", default=2, min=1, help="Number of API worker processes started by freezer-api."
    ),
    cfg.IntOpt("threads", default=4, min=1, help="Threads per worker process."),
    cfg.StrOpt(
        "auth_strategy",
        default="noauth",
        choices=[
            ("noauth", "identity is taken from X-User-Id, X-Project-Id... headers (development)"),
            ("keystone", "Keystone tokens are validated by keystonemiddleware auth_token"),
        ],
        help="How callers are authenticated.",
    ),
]

database_opts = [
    cfg.StrOpt(
        "connection",
        secret=True,
        help="SQLAlchemy URL of the database. Default: a SQLite file in the data directory of "
        "the user the server runs as, ~/.local/share/freezer-api/freezer-api.db on Linux.",
    ),
    cfg.StrOpt(
        "sqlite_synchronous",
        default="FULL",
        choices=["FULL", "NORMAL"],
        help="SQLite PRAGMA synchronous in WAL mode. FULL makes every acknowledged write survive "
        "a power loss; NORMAL survives process crashes only, and is faster.",
    ),
    cfg.IntOpt("pool_size", default=5, min=1, help="Connections kept open per process."),
    cfg.IntOpt(
        "max_overflow", default=10, min=0, help="Extra connections a process may open under load."
    ),
    cfg.IntOpt(
        "pool_timeout",
        default=10,
        min=1,
        help="Seconds to wait for a free connection or a SQLite write lock before answering 503.",
    ),
    cfg.BoolOpt(
        "sync_on_start",
        default=True,
        help="freezer-api upgrades a SQLite database to the current schema before serving. "
        "Other engines are upgraded only by 'freezer-manage db sync'.",
    ),
]

api_opts = [
    cfg.IntOpt("default_limit", default=10, min=1, help="Page size when a list gives no limit."),
    cfg.IntOpt("max_limit", default=1000, min=1, help="Largest page size a client may ask for."),
]

paste_opts = [
    cfg.StrOpt(
        "config_file",
        help="PasteDeploy file describing the WSGI pipelines (default: the api-paste.ini "
        "shipped with freezer-api). Its composite named after auth_strategy is served.",
    ),
]

centralized_scheduler_opts = [
    cfg.BoolOpt(
        "enabled",
        default=True,
        help="Give jobs of central clients a Keystone trust, so that a central scheduler "
        "can act for the job's owner.",
    ),
    cfg.StrOpt(
        "auth_section",
        default="keystone_authtoken",
        help="Config section with the service credentials (the trustee of the trusts).",
    ),
    cfg.ListOpt(
        "trusts_delegated_roles",
        default=["member"],
        help="Roles the trusts delegate to the service user.",
    ),
]

noauth_opts = [
    cfg.StrOpt("user_id", default="noauth-user", help="User id when X-User-Id is absent."),
    cfg.StrOpt("user_name", default="noauth", help="User name when X-User-Name is absent."),
    cfg.StrOpt(
        "project_id",
        default="noauth-project",
        help="Project id when neither X-Project-Id nor X-Tenant-Id is given, for URLs without "
        "a project (/v1). Under /v2/{project_id}/ the URL's project is the default.",
    ),
    cfg.ListOpt("roles", default=["member", "reader"], help="Roles when X-Roles is absent."),
    cfg.BoolOpt(
        "allow_remote",
        default=False,
        help="Let noauth listen on an address other than loopback. Anyone who reaches the "
        "port can then act as anyone: never do this on a shared network.",
    ),
]


def registered_opts() -> list[tuple[str, Sequence[Any]]]:
    """Every option the server registers: its own, and the middleware's it runs."""
    return [
        ("DEFAULT", default_opts),
        ("database", database_opts),
        ("api", api_opts),
        ("noauth", noauth_opts),
        ("paste_deploy", paste_opts),
        ("centralized_scheduler", centralized_scheduler_opts),
        *middleware_opts.list_opts_sizelimit(),
        *middleware_opts.list_opts_http_proxy_to_wsgi(),
        *middleware_opts.list_opts_cors(),
        *middleware_opts.list_opts_healthcheck(),
        *auth_token.list_opts(),
    ]


def list_opts() -> list[tuple[str, Sequence[Any]]]:
    """Return every option, for ``oslo-config-generator --namespace freezer-api``.

    The libraries' options come with this service's defaults (``LIBRARY_DEFAULTS``), so
    that the generated sample shows what the server uses. NOTE: on copies: the
    middleware registers its own option objects, which must stay as they are.
    """
    listed: list[tuple[str, Sequence[Any]]] = [
        (group, copy.deepcopy(list(opts))) for group, opts in registered_opts()
    ]
    for group, opts in listed:
        if group in LIBRARY_DEFAULTS:
            cfg.set_defaults(opts, **LIBRARY_DEFAULTS[group])
    return listed


#: Request bodies up to this size are accepted unless [oslo_middleware] says otherwise.
MAX_BODY_SIZE = 1024 * 1024

#: group -> the defaults this service gives options the OpenStack libraries declare
LIBRARY_DEFAULTS: dict[str, dict[str, Any]] = {
    "oslo_middleware": {"max_request_body_size": MAX_BODY_SIZE},
    "healthcheck": {
        "backends": ["disable_by_file"],
        "disable_by_file_path": "/etc/freezer/healthcheck_disable",
    },
}


@dataclasses.dataclass(frozen=True)
class NoauthIdentity:
    user_id: str
    user_name: str
    project_id: str
    roles: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything the service needs to know, read once at start."""

    database_url: str = dataclasses.field(repr=False)
    bind_host: str = "127.0.0.1"
    bind_port: int = 9090
    workers: int = 2
    threads: int = 4
    auth_strategy: str = "noauth"
    sqlite_synchronous: str = "FULL"
    pool_size: int = 5
    max_overflow: int = 10
    pool_timeout: int = 10
    sync_on_start: bool = True
    default_limit: int = 10
    max_limit: int = 1000
    max_body_size: int = MAX_BODY_SIZE
    noauth: NoauthIdentity = NoauthIdentity(
        "noauth-user", "noauth", "noauth-project", ("member", "reader")
    )
    allow_remote_noauth: bool = False
    paste_config: str | None = None
    central_trusts: bool = True
    config_files: tuple[str, ...] = ()
    #: the parsed options, for the OpenStack middleware that read their own sections
    conf: cfg.ConfigOpts | None = dataclasses.field(default=None, repr=False, compare=False)


def new_conf() -> cfg.ConfigOpts:
    """Return a fresh, private ``ConfigOpts`` with every option registered, not yet parsed."""
    conf = cfg.ConfigOpts()
    # NOTE: the seed's --bind-host/--bind-port flags, and --workers, also work on the command line.
    conf.register_cli_opts(default_opts[:3])
    for group, opts in registered_opts():
        conf.register_opts(opts, group=None if group == "DEFAULT" else group)
    for group, defaults in LIBRARY_DEFAULTS.items():
        for name, value in defaults.items():
            conf.set_default(name, value, group=group)
    ks_loading.register_auth_conf_options(conf, "keystone_authtoken")
    return conf


def default_config_files() -> list[str]:
    """Return the file read when ``--config-file`` is not given (oslo.config then ignores this)."""
    env_file = os.environ.get("FREEZER_API_CONFIG")
    if env_file:
        return [env_file]
    return [path for path in DEFAULT_CONFIG_FILES if os.path.isfile(path)][:1]


def build_conf(argv: Sequence[str] = (), *, config_files: bool = True) -> cfg.ConfigOpts:
    """Parse ``argv`` (``--config-file``...) into a fresh, private ``ConfigOpts``.

    With ``config_files=False`` no default file is read (the defaults, for tests).
    """
    conf = new_conf()
    conf(
        list(argv),
        project="freezer-api",
        prog="freezer-api",
        default_config_files=default_config_files() if config_files else [],
        default_config_dirs=[],
        validate_default_values=True,
        version=version(),
    )
    return conf


def settings_from_conf(conf: cfg.ConfigOpts) -> Settings:
    """Turn parsed options into ``Settings``."""
    return Settings(
        database_url=conf.database.connection or default_database_url(),
        bind_host=conf.bind_host,
        bind_port=conf.bind_port,
        workers=conf.workers,
        threads=conf.threads,
        auth_strategy=conf.auth_strategy,
        sqlite_synchronous=conf.database.sqlite_synchronous,
        pool_size=conf.database.pool_size,
        max_overflow=conf.database.max_overflow,
        pool_timeout=conf.database.pool_timeout,
        sync_on_start=conf.database.sync_on_start,
        default_limit=conf.api.default_limit,
        max_limit=conf.api.max_limit,
        max_body_size=conf.oslo_middleware.max_request_body_size,
        noauth=NoauthIdentity(
            user_id=conf.noauth.user_id,
            user_name=conf.noauth.user_name,
            project_id=conf.noauth.project_id,
            roles=tuple(role.strip().lower() for role in conf.noauth.roles if role.strip()),
        ),
        allow_remote_noauth=conf.noauth.allow_remote,
        paste_config=conf.paste_deploy.config_file,
        central_trusts=conf.centralized_scheduler.enabled,
        config_files=tuple(conf.config_file or ()),
        conf=conf,
    )


def load_settings(argv: Sequence[str] = ()) -> Settings:
    """Read the configuration files named by ``argv`` (or the default paths)."""
    return settings_from_conf(build_conf(argv))
