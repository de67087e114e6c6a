# SPDX-License-Identifier: Apache-2.0
"""JSON encoding with orjson, falling back to the standard library for what orjson refuses.

orjson is several times faster; it refuses integers beyond 64 bits, which a client may
legitimately store in a document, so those documents go through ``json``.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps_bytes(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, ensure_ascii=False).encode()


def dumps(value: Any) -> str:
    return dumps_bytes(value).decode()


def loads(text: str | bytes) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
