# SPDX-License-Identifier: Apache-2.0
"""``freezer-api``: serve the API with gunicorn (worker processes x threads)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import Any

from gunicorn import glogging
from gunicorn.app.base import BaseApplication

from freezer_api import logs
from freezer_api.app import check_wiring, create_app, log_start, prepare_database
from freezer_api.cli import is_loopback
from freezer_api.config import Settings, build_conf, checked_settings

LOG = logging.getLogger(__name__)


def bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Server(BaseApplication):  # type: ignore[misc]
    """gunicorn, configured from Settings; every worker opens its own database pool."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        super().__init__()

    def load_config(self) -> None:
        settings = self._settings
        options = {
            "bind": bind_address(settings.bind_host, settings.bind_port),
            "workers": settings.workers,
            "threads": settings.threads,
            "worker_class": "gthread",
            "preload_app": False,
            "timeout": 60,
            "graceful_timeout": 30,
            "keepalive": 5,
            # NOTE: the app writes the access lines (logs.RequestLog), under uwsgi too
            "logger_class": GunicornLog,
            "proc_name": "freezer-api",
            # NOTE: said once the port is bound, not before
            "when_ready": lambda arbiter: log_serving(settings),
            # NOTE: gunicorn 25.1+ opens a control socket in ~/.gunicorn by default
            "control_socket_disable": True,
        }
        for key, value in options.items():
            if key in self.cfg.settings:
                self.cfg.set(key, value)

    def load(self) -> Any:
        return create_app(self._settings)


class GunicornLog(glogging.Logger):  # type: ignore[misc]
    """gunicorn's own lines through the handlers oslo.log set up, in its format.

    SIGUSR1 (log rotation) reopens the log files of the master and of every worker.
    """

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for handler in list(self.error_log.handlers):
            self.error_log.removeHandler(handler)
        self.error_log.propagate = True

    def reopen_files(self) -> None:
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.FileHandler):
                handler.close()  # NOTE: reopened by its next line

    def close_on_exec(self) -> None:
        pass


def log_serving(settings: Settings) -> None:
    LOG.info(
        "serving on http://%s with %d workers x %d threads, auth %s",
        bind_address(settings.bind_host, settings.bind_port),
        settings.workers,
        settings.threads,
        settings.auth_strategy,
    )


def check_exposure(settings: Settings) -> None:
    """noauth trusts whatever identity headers a caller sends: keep it on loopback."""
    if settings.auth_strategy != "noauth" or is_loopback(settings.bind_host):
        return
    if not settings.allow_remote_noauth:
        raise RuntimeError(
            f"auth_strategy = noauth would let anyone who reaches {settings.bind_host} act as "
            "any user; use auth_strategy = keystone, bind to a loopback address, or set "
            "[noauth] allow_remote = true to force it"
        )
    LOG.warning(
        "noauth on %s, forced by [noauth] allow_remote: anyone who reaches this port "
        "can act as any user",
        settings.bind_host,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``freezer-api [--config-file F] [--bind-host H] [--bind-port P] [--workers N]``."""
    logs.boot()
    conf = None
    try:
        conf = build_conf(sys.argv[1:] if argv is None else argv)
        logs.setup(conf)
        settings = checked_settings(conf)
        log_start(settings)
        check_exposure(settings)
        check_wiring(settings)
        prepare_database(settings)
    except Exception as error:  # noqa: BLE001 - any start-up failure ends here, said once
        logs.fatal(conf, LOG, f"freezer-api cannot start: {error}")
        return 1
    Server(settings).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
