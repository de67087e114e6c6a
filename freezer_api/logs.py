# SPDX-License-Identifier: Apache-2.0
"""Logging as OpenStack services log: oslo.log's options and handlers, oslo.context per request.

Every line written while a request is served carries its request id, user and project
(``[DEFAULT] logging_context_format_string``); each request ends with one access line.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

from oslo_config import cfg
from oslo_context import context
from oslo_log import handlers as log_handlers
from oslo_log import log
from oslo_middleware import request_id

from freezer_api import version

ACCESS = logging.getLogger("freezer_api.access")
ACCESS_FORMAT = '%s "%s %s%s %s" status: %s len: %s time: %.4f'
#: the environ key of the request's oslo.context ``RequestContext``
CONTEXT = "freezer_api.context"
#: paths asked by load balancers every few seconds: their access lines are DEBUG
QUIET_PATHS = frozenset({"/healthcheck"})
#: a plain line on stderr, until the configuration says where logs go
BOOT_FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s %(message)s"

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


#: oslo.log's, and alembic's INFO lines (its migration context) say nothing an operator needs
DEFAULT_LOG_LEVELS = [*log.get_default_log_levels(), "alembic=WARN"]
# NOTE: on oslo.log's own options, as OpenStack services do: the sample shows it too
log.set_defaults(default_log_levels=DEFAULT_LOG_LEVELS)


def register_options(conf: cfg.ConfigOpts) -> None:
    """oslo.log's options (``debug``, ``log_file``, ``log_dir``, ``use_json``...) on ``conf``."""
    log.register_options(conf)


def boot() -> None:
    """Log to stderr until ``setup`` reads where to: a start-up failure is seen."""
    logging.basicConfig(level=logging.INFO, format=BOOT_FORMAT)


def setup(conf: cfg.ConfigOpts, program: str = "freezer-api") -> None:
    """Send the log where ``conf`` says (oslo.log), replacing the boot handler."""
    log.setup(conf, program, version=version(), fix_eventlet=False)
    quicken_access_lines(conf)


def _oslo_defaults() -> dict[str, str]:
    """oslo.log's own formats, read from a configuration nobody set."""
    fresh = cfg.ConfigOpts()
    log.register_options(fresh)
    fresh([], default_config_files=[], default_config_dirs=[])
    names = ("logging_context_format_string", "logging_user_identity_format", "log_date_format")
    return {name: fresh[name] for name in names}


#: oslo.log's default formats, which ``AccessFormatter`` renders as its ContextFormatter does
OSLO_DEFAULTS = _oslo_defaults()


def quicken_access_lines(conf: cfg.ConfigOpts) -> None:
    """Give the access lines handlers of their own that write the same text, 4x cheaper.

    NOTE: oslo.log's ContextFormatter spends about 30 us on a line (it copies the whole
    context onto the record, twice), as much as the request it logs costs the server.
    When the log is oslo.log's default text, to stdout, stderr or files, the access
    lines get a twin of each handler with ``AccessFormatter``, which writes the same
    line from the request's context; JSON, syslog, journald, a logging configuration
    file, or formats of one's own keep the access lines on oslo.log's handlers.
    """
    ACCESS.propagate = True
    for handler in list(ACCESS.handlers):
        ACCESS.removeHandler(handler)
    if conf.log_config_append or conf.use_json or conf.use_syslog or conf.use_journal:
        return
    if any(conf[name] != default for name, default in OSLO_DEFAULTS.items()):
        return
    twins: list[logging.Handler] = []
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.handlers.WatchedFileHandler):
            twin: logging.Handler = logging.handlers.WatchedFileHandler(handler.baseFilename)
        elif type(handler) in (logging.StreamHandler, log_handlers.ColorHandler):
            twin = logging.StreamHandler(handler.stream)  # type: ignore[attr-defined]
        else:
            return
        twin.setLevel(handler.level)
        twin.setFormatter(AccessFormatter(conf.logging_debug_format_suffix))
        twins.append(twin)
    for twin in twins:
        ACCESS.addHandler(twin)
    ACCESS.propagate = False


class AccessFormatter(logging.Formatter):
    """oslo.log's default context format, from the request's context, for the access lines.

    The same text as ``oslo_log.formatters.ContextFormatter`` with oslo.log's default
    formats (``tests/test_logging.py`` compares them).
    """

    def __init__(self, debug_suffix: str | None) -> None:
        super().__init__(
            OSLO_DEFAULTS["logging_context_format_string"], OSLO_DEFAULTS["log_date_format"]
        )
        self._debug_suffix = debug_suffix

    def format(self, record: logging.LogRecord) -> str:
        request_context = context.get_current()
        if request_context is None:
            record.global_request_id = record.request_id = record.user_identity = ""
        else:
            record.global_request_id = request_context.global_request_id
            record.request_id = request_context.request_id
            record.user_identity = OSLO_DEFAULTS["logging_user_identity_format"] % (
                _Dashes(
                    user=request_context.user_id,
                    project=request_context.project_id,
                    domain=request_context.domain_id,
                    system_scope=request_context.system_scope,
                    user_domain=request_context.user_domain_id,
                    project_domain=request_context.project_domain_id,
                )
            )
        record.instance = ""
        line = super().format(record)
        if record.levelno == logging.DEBUG and self._debug_suffix:
            line += " " + self._debug_suffix % record.__dict__
        return line


class _Dashes(dict[str, Any]):
    """What oslo.log writes for an empty value of the user identity: ``-``."""

    def __getitem__(self, key: str) -> Any:
        return dict.get(self, key) or "-"


def to_a_file_only(conf: cfg.ConfigOpts) -> bool:
    """Whether the configured log leaves stdout and stderr silent (a file, syslog, journal)."""
    if conf.log_config_append:
        return False
    return bool(conf.log_file or conf.log_dir or conf.use_syslog or conf.use_journal) and not (
        conf.use_stderr
    )


def fatal(conf: cfg.ConfigOpts | None, logger: logging.Logger, message: str) -> None:
    """Log why the program stops; on stderr too when the log goes elsewhere."""
    logger.error(message)
    if conf is not None and to_a_file_only(conf):
        print(message, file=sys.stderr)


def identify(env: dict[str, Any], user_id: str, user_name: str, project_id: str) -> None:
    """Name the caller in the request's log context, once authentication knows them."""
    request_context = env.get(CONTEXT)
    if request_context is not None:
        request_context.user_id = user_id
        request_context.user_name = user_name or None
        request_context.project_id = project_id


class RequestLog:
    """The request's log context for every line it causes, and one access line at its end.

    Runs after ``request_id`` in the pipeline: the context carries the request id (and an
    inbound global request id); the identity middleware adds the user and the project.
    """

    def __init__(self, application: WSGIApp, conf: Any = None) -> None:
        self._app = application

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        started = time.monotonic()
        request_context = context.RequestContext(
            request_id=environ.get(request_id.ENV_REQUEST_ID),
            global_request_id=environ.get(request_id.GLOBAL_REQ_ID),
            overwrite=True,
        )
        environ[CONTEXT] = request_context
        answer: dict[str, str] = {}

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            answer["status"] = status
            answer["length"] = next(
                (value for name, value in headers if name.lower() == "content-length"), "-"
            )
            return start_response(status, headers, exc_info)

        try:
            return self._app(environ, start)
        finally:
            self._access(environ, answer, time.monotonic() - started)

    @staticmethod
    def _access(environ: dict[str, Any], answer: dict[str, str], seconds: float) -> None:
        path = environ.get("PATH_INFO", "")
        level = logging.DEBUG if path in QUIET_PATHS else logging.INFO
        if not ACCESS.isEnabledFor(level):
            return
        query = environ.get("QUERY_STRING")
        args = (
            environ.get("REMOTE_ADDR", "-"),
            environ.get("REQUEST_METHOD", "-"),
            path,
            f"?{query}" if query else "",
            environ.get("SERVER_PROTOCOL", "-"),
            answer.get("status", "500").split(" ", 1)[0],
            answer.get("length", "-"),
            seconds,
        )
        if level == logging.DEBUG:
            ACCESS.debug(ACCESS_FORMAT, *args)
            return
        # NOTE: without Logger.info's search of the caller's frame, which no line shows
        ACCESS.handle(ACCESS.makeRecord(ACCESS.name, level, __file__, 0, ACCESS_FORMAT, args, None))
