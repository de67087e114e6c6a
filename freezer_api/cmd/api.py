# SPDX-License-Identifier: Apache-2.0
"""WSGI entry point named by the seed README (``freezer_api.wsgi`` is the same application).

uwsgi --http :9090 --need-app --master --module freezer_api.cmd.api:application
"""

from freezer_api.wsgi import application

__all__ = ["application"]
