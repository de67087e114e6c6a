# SPDX-License-Identifier: Apache-2.0
"""Logging as OpenStack services log: oslo.log's options and handlers, oslo.context per request.

Every line written while a request is served carries its request id, user and project
(``[DEFAULT] logging_context_format_string``); each request ends with one access line.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

from oslo_config import cfg
from oslo_context import context
from oslo_log import log
from oslo_middleware import request_id

from freezer_api import version

ACCESS = logging.getLogger("freezer_api.access")
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
        ACCESS.log(
            level,
            '%s "%s %s%s %s" status: %s len: %s time: %.4f',
            environ.get("REMOTE_ADDR", "-"),
            environ.get("REQUEST_METHOD", "-"),
            path,
            f"?{query}" if query else "",
            environ.get("SERVER_PROTOCOL", "-"),
            answer.get("status", "500").split(" ", 1)[0],
            answer.get("length", "-"),
            seconds,
        )
