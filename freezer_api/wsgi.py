# SPDX-License-Identifier: Apache-2.0
"""WSGI entry point for any WSGI server, under freezer-api 19.0.0's module name too.

    uwsgi --http :9090 --master --die-on-term --module freezer_api.wsgi:application

The configuration file is ``$FREEZER_API_CONFIG``, else ``/etc/freezer-api.conf``,
else ``/etc/freezer/freezer-api.conf``; without one, the defaults apply.
"""

from __future__ import annotations

from typing import Any

from freezer_api import logs
from freezer_api.app import create_app, log_start, prepare_database
from freezer_api.config import build_conf, checked_settings


def initialize_app() -> Any:
    """Read the configuration, set up the log, check the database and build the app."""
    logs.boot()
    conf = build_conf()
    logs.setup(conf)
    settings = checked_settings(conf)
    log_start(settings)
    prepare_database(settings)
    return create_app(settings)


application = initialize_app()
