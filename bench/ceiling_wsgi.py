# SPDX-License-Identifier: Apache-2.0
"""The ceiling: a bare WSGI app answering 1 KB of JSON, served like the API."""

import json
from collections.abc import Callable
from typing import Any

BODY = json.dumps({"backup_metadata": {"padding": "x" * 980}}).encode()
HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("200 OK", HEADERS)
    return [BODY]
