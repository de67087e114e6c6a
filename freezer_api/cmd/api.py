# SPDX-License-Identifier: Apache-2.0
"""WSGI entry point named by the seed README.

    uwsgi --http :9090 --need-app --master --module freezer_api.cmd.api:application

The configuration file is ``$FREEZER_API_CONFIG``, else ``/etc/freezer-api.conf``,
else ``/etc/freezer/freezer-api.conf``; without one, the defaults apply.
"""

from freezer_api.app import create_app, prepare_database
from freezer_api.cli import setup_logging
from freezer_api.config import load_settings

setup_logging()
settings = load_settings()
prepare_database(settings)
application = create_app(settings)
