# SPDX-License-Identifier: Apache-2.0
"""Configuration: oslo.config options, read once into a frozen ``Settings``.

This is the only module that reads configuration files or the environment.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import io
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import platformdirs
from keystoneauth1 import loading as ks_loading
from keystonemiddleware import auth_token
from oslo_config import cfg, types
from oslo_middleware import opts as middleware_opts

from freezer_api import logs, version

#: Searched in this order when no ``--config-file`` is given; the first is the seed's path.
DEFAULT_CONFIG_FILES = ("/etc/freezer-api.conf", "/etc/freezer/freezer-api.conf")


def default_database_url() -> str:
    """Return the SQLite URL used when ``[database] connection`` is not set."""
    data_dir = Path(platformdirs.user_data_dir("freezer-api"))
    return f"sqlite:///{data_dir / 'freezer-api.db'}"


class SqliteSynchronous(types.String):
    """FULL or NORMAL; freezer-api 19.0.0's boolean (oslo.db) as FULL (true) or NORMAL."""

    #: NOTE: not on/off, which SQLite's own values (OFF) would make ambiguous
    BOOLEANS = {"true": "FULL", "yes": "FULL", "1": "FULL"} | {
        "false": "NORMAL",
        "no": "NORMAL",
        "0": "NORMAL",
    }

    def __init__(self) -> None:
        super().__init__(choices=["FULL", "NORMAL"], ignore_case=True, type_name="mode")

    def __call__(self, value: Any) -> str:
        if isinstance(value, bool):
            value = str(value)
        mode = self.BOOLEANS.get(str(value).strip().lower())
        return mode if mode is not None else str(super().__call__(value)).upper()


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
    cfg.Opt(
        "sqlite_synchronous",
        type=SqliteSynchronous(),
        default="FULL",
        help="SQLite PRAGMA synchronous in WAL mode. FULL makes every acknowledged write survive "
        "a power loss; NORMAL survives process crashes only, and is faster. The boolean of "
        "freezer-api 19.0.0 (oslo.db) is read too: true is FULL, false is NORMAL.",
    ),
    cfg.IntOpt(
        "pool_size",
        default=5,
        min=1,
        deprecated_opts=[cfg.DeprecatedOpt("max_pool_size", group="database")],
        help="Connections kept open per process.",
    ),
    cfg.IntOpt(
        "max_overflow", default=10, min=0, help="Extra connections a process may open under load."
    ),
    cfg.IntOpt(
        "pool_timeout",
        default=10,
        min=1,
        help="Seconds to wait for a free connection or a SQLite write lock before answering 503.",
    ),
    cfg.IntOpt(
        "connection_recycle_time",
        default=3600,
        min=-1,
        deprecated_opts=[cfg.DeprecatedOpt("idle_timeout", group="database")],
        help="Seconds after which a pooled connection is replaced (-1: never); keep it below "
        "the database's or a proxy's idle timeout. Not used for SQLite.",
    ),
    cfg.IntOpt(
        "mysql_wsrep_sync_wait",
        min=0,
        max=15,
        help="Galera's wsrep_sync_wait for every connection to a MariaDB Galera node: 1 (the "
        "default on Galera) makes each read wait until its node has applied every write the "
        "cluster committed before it, so that a client reading through another node than it "
        "wrote through sees its write (read-your-writes); 0 turns that off. Unset: 1 on a "
        "Galera node, nothing elsewhere.",
    ),
    cfg.IntOpt(
        "max_retries",
        default=10,
        min=-1,
        help="How often the server tries to reach the database at start before it gives up "
        "(-1: forever): a Galera node or a database that starts after the API is waited for.",
    ),
    cfg.IntOpt(
        "retry_interval",
        default=3,
        min=1,
        help="Seconds between the attempts of max_retries.",
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
    cfg.BoolOpt(
        "protect_chains",
        default=False,
        help="Refuse (409, naming them) to delete a v2 backup that other backups' chains need, "
        "unless the DELETE says ?cascade=true (which deletes them too). Off: deletes answer as "
        "freezer-api 19.0.0's, for the official client and scheduler.",
    ),
]

clients_opts = [
    cfg.IntOpt(
        "alive_seconds",
        default=300,
        min=10,
        help="A client (scheduler) last in contact longer ago than this is shown as not alive. "
        "Every poll of its jobs, registration and job update is a contact; the last one is "
        "written at most every tenth of this by each process (last_seen is within a fifth of "
        "it).",
    ),
]

jobs_opts = [
    cfg.IntOpt(
        "lease_seconds",
        default=900,
        min=10,
        help="A job whose schedule says running while its client has not been in contact for "
        "this long is reported stale (?liveness=true shows it, ?stale=true lists them).",
    ),
    cfg.BoolOpt(
        "fail_stale",
        default=False,
        help="End stale jobs as their scheduler would have: status completed, result fail, and "
        "their session's job entry too, once, each change in the change feed. Off: stale jobs "
        "are only reported.",
    ),
]

metrics_opts = [
    cfg.BoolOpt("enabled", default=True, help="Serve Prometheus metrics at /metrics."),
    cfg.BoolOpt(
        "allow_remote",
        default=False,
        help="Serve /metrics to any caller. Off: only to callers on a loopback address (not "
        "through a proxy that adds X-Forwarded-For or Forwarded) or with the bearer token.",
    ),
    cfg.StrOpt(
        "token",
        secret=True,
        help="A bearer token (Authorization: Bearer TOKEN) that lets a remote Prometheus "
        "scrape /metrics.",
    ),
    cfg.IntOpt(
        "catalogue_seconds",
        default=60,
        min=0,
        help="Seconds the catalogue's gauges (backup sets, objectives, clients, jobs) are "
        "kept between two readings from the database.",
    ),
    cfg.IntOpt(
        "max_sets",
        default=10000,
        min=0,
        help="Most backup sets (of all projects) the catalogue's gauges describe.",
    ),
]

dashboard_opts = [
    cfg.BoolOpt(
        "enabled",
        default=True,
        help="Serve the read-only dashboard at /dashboard/ (in keystone mode, with a sign-in "
        "form; the paste pipeline's dashboard_session filter keeps its session).",
    ),
    cfg.StrOpt(
        "keystone_url",
        help="The Keystone the sign-in form asks for tokens (default: [keystone_authtoken] "
        "www_authenticate_uri, else its auth_url).",
    ),
    cfg.IntOpt("page_size", default=25, min=1, max=500, help="Rows of each dashboard page."),
]

search_opts = [
    cfg.StrOpt(
        "backend",
        default="sql",
        choices=["sql", "opensearch"],
        help="What answers free-text searches (?search=, ?q=, the CLI's --search): the "
        "catalogue's database, or the OpenSearch index (kept by freezer-manage search sync; "
        "if it fails, the search is answered from the database, logged and counted).",
    ),
    cfg.ListOpt("hosts", default=["http://127.0.0.1:9200"], help="OpenSearch URLs."),
    cfg.StrOpt("index", default="freezer", help="The index (its cursor: INDEX-meta)."),
    cfg.StrOpt("username", help="HTTP basic authentication user."),
    cfg.StrOpt("password", secret=True, help="HTTP basic authentication password."),
    cfg.BoolOpt("verify_certs", default=True, help="Check the server's TLS certificate."),
    cfg.StrOpt("ca_certs", help="CA bundle of the server's TLS certificate."),
    cfg.IntOpt("timeout", default=10, min=1, help="Seconds a request to OpenSearch may take."),
]


paste_opts = [
    cfg.StrOpt(
        "config_file",
        help="PasteDeploy file describing the WSGI pipelines (default: the api-paste.ini "
        "shipped with freezer-api). Its composite named after auth_strategy is served.",
    ),
]

#: what freezer-api 19.0.0's own paste file names; such a file cannot build this server
LEGACY_PASTE_FACTORIES = ("freezer_api.service:", "freezer_api.api.versions:")

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


#: the first groups of ``registered_opts()`` are this server's own
OWN_GROUPS = 11


def registered_opts() -> list[tuple[str, Sequence[Any]]]:
    """Every option the server registers: its own, and the middleware's it runs."""
    return [
        ("DEFAULT", default_opts),
        ("database", database_opts),
        ("api", api_opts),
        ("clients", clients_opts),
        ("jobs", jobs_opts),
        ("metrics", metrics_opts),
        ("dashboard", dashboard_opts),
        ("search", search_opts),
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
        "backends": ["disable_by_file", "database"],
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
    pool_recycle: int = 3600
    wsrep_sync_wait: int | None = None
    max_retries: int = 10
    retry_interval: int = 3
    sync_on_start: bool = True
    default_limit: int = 10
    max_limit: int = 1000
    protect_chains: bool = False
    alive_seconds: int = 300
    lease_seconds: int = 900
    fail_stale: bool = False
    dashboard: bool = True
    dashboard_page_size: int = 25
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
    logs.register_options(conf)
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
    said = io.StringIO()
    try:
        with contextlib.redirect_stderr(said):
            conf(
                list(argv),
                project="freezer-api",
                prog="freezer-api",
                default_config_files=default_config_files() if config_files else [],
                default_config_dirs=[],
                validate_default_values=True,
                version=version(),
            )
    except SystemExit as stop:
        # NOTE: oslo.config writes a bad value of a command-line option read from a file
        # on stderr and exits 1; it is raised like every other bad value
        text = said.getvalue()
        if stop.code == 1 and text.startswith("argument --"):
            where = ", ".join(default_config_files() if config_files else []) or "--config-file"
            problem = " ".join(text.removeprefix("argument --").split())
            raise ValueError(f"[DEFAULT] {problem} (in {where} or the command line)") from None
        sys.stderr.write(text)
        raise
    sys.stderr.write(said.getvalue())
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
        pool_recycle=conf.database.connection_recycle_time,
        wsrep_sync_wait=conf.database.mysql_wsrep_sync_wait,
        max_retries=conf.database.max_retries,
        retry_interval=conf.database.retry_interval,
        sync_on_start=conf.database.sync_on_start,
        default_limit=conf.api.default_limit,
        max_limit=conf.api.max_limit,
        protect_chains=conf.api.protect_chains,
        alive_seconds=conf.clients.alive_seconds,
        lease_seconds=conf.jobs.lease_seconds,
        fail_stale=conf.jobs.fail_stale,
        dashboard=conf.dashboard.enabled,
        dashboard_page_size=conf.dashboard.page_size,
        max_body_size=conf.oslo_middleware.max_request_body_size,
        noauth=NoauthIdentity(
            user_id=conf.noauth.user_id,
            user_name=conf.noauth.user_name,
            project_id=conf.noauth.project_id,
            roles=tuple(role.strip().lower() for role in conf.noauth.roles if role.strip()),
        ),
        allow_remote_noauth=conf.noauth.allow_remote,
        paste_config=paste_file(conf.paste_deploy.config_file),
        central_trusts=conf.centralized_scheduler.enabled,
        config_files=tuple(conf.config_file or ()),
        conf=conf,
    )


def paste_file(name: str | None) -> str | None:
    """The ``[paste_deploy] config_file`` to load: None for the packaged one.

    freezer-api 19.0.0's configuration names its own paste file (``freezer-paste.ini``,
    found beside the configuration); its factories are not this server's, so the packaged
    pipeline serves instead (``ignored_options`` says so at start).
    """
    if name is None or is_legacy_paste_file(name):
        return None
    return name


def is_legacy_paste_file(name: str) -> bool:
    path = Path(name)
    if not path.is_absolute() and not path.exists():
        return name == "freezer-paste.ini"
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return False
    return any(factory in text for factory in LEGACY_PASTE_FACTORIES)


#: (section, option) of freezer-api 19.0.0's configuration (oslo.db's [database] included)
#: that this server does not read, and why
IGNORED_OPTIONS = {
    ("database", "backend"): "only SQLAlchemy is used; [database] connection names the engine",
    ("database", "slave_connection"): "every read goes to [database] connection",
    ("database", "asyncio_connection"): "the server does not use asyncio",
    ("database", "asyncio_slave_connection"): "the server does not use asyncio",
    ("database", "synchronous_reader"): "every read goes to [database] connection",
    ("database", "mysql_sql_mode"): "the server sets what it needs on each MariaDB/MySQL "
    "connection (utf8mb4, READ COMMITTED)",
    ("database", "connection_debug"): "set [DEFAULT] default_log_levels to sqlalchemy.engine=INFO",
    ("database", "connection_trace"): "set [DEFAULT] default_log_levels to sqlalchemy.engine=INFO",
    ("database", "use_db_reconnect"): "a request whose database fails answers 503 with "
    "Retry-After; the clients retry",
    ("database", "db_retry_interval"): "a request whose database fails answers 503",
    ("database", "db_inc_retry_interval"): "a request whose database fails answers 503",
    ("database", "db_max_retry_interval"): "a request whose database fails answers 503",
    ("database", "db_max_retries"): "a request whose database fails answers 503",
    ("database", "connection_parameters"): "put them in the query of [database] connection",
    ("storage", "backend"): "the catalogue is in [database] connection",
    ("storage", "driver"): "the catalogue is in [database] connection",
    ("centralized_scheduler", "enforce_trusts"): "trusts are made for the jobs of central "
    "clients only",
    ("centralized_scheduler", "service_user"): "the trustee is the user of auth_section, as "
    "19.0.0 recommends",
    ("centralized_scheduler", "service_user_domain"): "the trustee is the user of auth_section",
}

#: sections of freezer-api 19.0.0 this server does not read, and why
IGNORED_SECTIONS = {
    "elasticsearch": "the Elasticsearch store of freezer-api is not read; the catalogue is "
    "in [database] connection",
}


def ignored_options(conf: cfg.ConfigOpts) -> list[str]:
    """One line for each option of the configuration files that the server does not read.

    Sections of other libraries (whose options are registered when they load, such as
    an auth plugin's) are left to them.
    """
    own = {group for group, _ in registered_opts()[:OWN_GROUPS]}
    known = known_options(conf)
    lines = []
    for path in conf.config_file or ():
        sections: dict[str, dict[str, list[str]]] = {}
        cfg.ConfigParser(path, sections).parse()
        for section, options in sections.items():
            for key in options:
                why = IGNORED_OPTIONS.get((section, key)) or IGNORED_SECTIONS.get(section)
                if why is None and section in own and (section, key) not in known:
                    spelt = key.replace("-", "_")
                    why = (
                        f"options are spelt with underscores: {spelt}"
                        if (section, spelt) in known
                        else "freezer-api has no such option"
                    )
                if why is not None:
                    lines.append(f"{path}: [{section}] {key} is ignored: {why}")
    name = conf.paste_deploy.config_file
    if name is not None and paste_file(name) is None:
        lines.append(
            f"[paste_deploy] config_file {name} is freezer-api 19.0.0's pipeline, which "
            "cannot serve this server: the packaged api-paste.ini serves instead"
        )
    return lines


def known_options(conf: cfg.ConfigOpts) -> set[tuple[str, str]]:
    """(section, option) of every option registered on ``conf``, deprecated names included."""
    known: set[tuple[str, str]] = set()
    for name in conf:
        value = conf[name] if name != "config_file" else None
        if isinstance(value, cfg.ConfigOpts.GroupAttr):
            known.update((name, option) for option in value)
        else:
            known.add(("DEFAULT", name))
    for group, opts in registered_opts():
        for opt in opts:
            for old in opt.deprecated_opts:
                known.add((old.group or group, old.name or opt.dest))
    return known


def check_values(conf: cfg.ConfigOpts) -> None:
    """Read every registered option once, so that a bad value in a file is found at start.

    NOTE: oslo.config checks a value when it is first read; some are read only by a
    worker's middleware, or when a request needs them.
    """
    for name in conf:
        try:
            value = conf[name]
        except cfg.ConfigFileValueError as error:
            raise bad_value("DEFAULT", name, conf, error) from None
        if isinstance(value, cfg.ConfigOpts.GroupAttr):
            for option in value:
                try:
                    value[option]
                except cfg.ConfigFileValueError as error:
                    raise bad_value(name, option, conf, error) from None


def bad_value(
    group: str, name: str, conf: cfg.ConfigOpts, error: cfg.ConfigFileValueError
) -> ValueError:
    """``[group] name in FILES: why`` (oslo.config's message names its internal types).

    NOTE: ``conf.get_location`` would read the value again, and fail the same way.
    """
    files = conf.config_file or default_config_files()
    where = f" in {', '.join(files)}" if files else ""
    why = str(error).rsplit(" is not valid: ", 1)[-1]
    return ValueError(f"[{group}] {name}{where}: {why}")


def checked_settings(conf: cfg.ConfigOpts) -> Settings:
    """``Settings`` of parsed options, once every value is known to be valid."""
    check_values(conf)
    return settings_from_conf(conf)


def load_settings(argv: Sequence[str] = ()) -> Settings:
    """Read the configuration files named by ``argv`` (or the default paths)."""
    return checked_settings(build_conf(argv))
