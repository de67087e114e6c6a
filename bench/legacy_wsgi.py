# SPDX-License-Identifier: Apache-2.0
"""freezer-api 19.0.0, keystone-less, for the benchmark only.

19.0.0 ships no working unauthenticated pipeline, so this builds its own v2 app with
its own ContextMiddleware, and serves it under /v2 as its paste urlmap would. The load
generator sends the identity headers keystonemiddleware would have set.
Run with freezer-api 19.0.0's Python; FREEZER_BENCH_CONF names its config file.
"""

import os
import sys

sys.argv = [sys.argv[0], "--config-file", os.environ["FREEZER_BENCH_CONF"]]

from freezer_api.api.common import middleware  # noqa: E402
from freezer_api.common import config  # noqa: E402

from freezer_api.cmd import api  # noqa: E402

config.parse_args(args=sys.argv[1:])
v2 = middleware.ContextMiddleware(api.build_app_v2())


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path.startswith("/v2/"):
        environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + "/v2"
        environ["PATH_INFO"] = path[3:]
        return v2(environ, start_response)
    body = b'{"title": "404 Not Found"}'
    start_response(
        "404 Not Found", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]
