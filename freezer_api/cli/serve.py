# SPDX-License-Identifier: Apache-2.0
"""``freezer-api``: serve the API with granian (worker processes x threads)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from granian import Granian
from granian.constants import Interfaces

from freezer_api import logs
from freezer_api.app import check_wiring, create_app, log_start, prepare_database
from freezer_api.cli import is_loopback
from freezer_api.config import Settings, build_conf, checked_settings
from freezer_api.metrics import MULTIPROC_DIR

LOG = logging.getLogger(__name__)
#: the command line, for a worker that starts afresh (not forked): it reads the same files
ARGV = "FREEZER_API_SERVE_ARGV"
#: granian's own lines (starting, workers, stopping) through the handlers oslo.log set up
GRANIAN_LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {},
    "loggers": {
        "_granian": {"handlers": [], "propagate": True},
        "granian.access": {"handlers": [], "propagate": True},
    },
}
#: seconds a stopping worker has to finish the requests it has begun
STOP_TIMEOUT = 30

_settings: Settings | None = None


def bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def serve(settings: Settings, argv: Sequence[str]) -> None:
    """Serve until SIGTERM or SIGINT (graceful stop); SIGHUP replaces the workers.

    granian binds the port, then forks the workers, each of which builds the app
    (``worker_app``) with its own database pool.
    """
    global _settings
    _settings = settings
    os.environ[ARGV] = json.dumps(list(argv))
    server = Granian(
        "freezer_api.cli.serve:worker_app",
        factory=True,
        address=settings.bind_host,
        port=settings.bind_port,
        interface=Interfaces.WSGI,
        workers=settings.workers,
        blocking_threads=settings.threads,
        websockets=False,
        log_dictconfig=GRANIAN_LOGGING,
        # NOTE: the app writes the access lines (logs.RequestLog), under any server
        log_access=False,
        workers_kill_timeout=STOP_TIMEOUT,
        respawn_failed_workers=True,
    )
    # NOTE: said once the port is bound, not before
    server.on_startup(lambda: log_serving(settings))
    with metrics_directory():
        server.serve()


@contextlib.contextmanager
def metrics_directory() -> Iterator[None]:
    """A directory where the workers keep their metrics, for ``/metrics`` to add them up:
    ``$PROMETHEUS_MULTIPROC_DIR`` emptied of a previous run's, or a new one removed after."""
    given = os.environ.get(MULTIPROC_DIR)
    if given:
        for stale_file in Path(given).glob("*.db"):
            stale_file.unlink()
        yield
        return
    directory = tempfile.mkdtemp(prefix="freezer-api-metrics-")
    os.environ[MULTIPROC_DIR] = directory
    try:
        yield
    finally:
        del os.environ[MULTIPROC_DIR]
        shutil.rmtree(directory, ignore_errors=True)


def worker_app() -> Any:
    """The WSGI app of one worker: the settings the command read (inherited, or read again)."""
    settings = _settings
    if settings is None:
        conf = build_conf(json.loads(os.environ.get(ARGV, "[]")))
        logs.setup(conf)
        settings = checked_settings(conf)
    return create_app(settings)


def log_serving(settings: Settings) -> None:
    LOG.info(
        "serving on http://%s with %d workers x %d threads (granian), auth %s",
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
    argv = sys.argv[1:] if argv is None else argv
    try:
        conf = build_conf(argv)
        logs.setup(conf)
        settings = checked_settings(conf)
        log_start(settings)
        check_exposure(settings)
        check_wiring(settings)
        prepare_database(settings)
    except Exception as error:  # noqa: BLE001 - any start-up failure ends here, said once
        logs.fatal(conf, LOG, f"freezer-api cannot start: {error}")
        return 1
    serve(settings, argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
