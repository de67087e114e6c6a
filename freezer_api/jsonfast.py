# SPDX-License-Identifier: Apache-2.0
"""JSON encoding with orjson, falling back to the standard library for what orjson cannot keep.

orjson is several times faster, but handles integers only within 64 bits, which a client
may legitimately go beyond in a document: it refuses to write them, and reads them as
floats (losing digits). Documents holding them are written by the standard library, and
read back with it too.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

#: What the standard library writes after each key and orjson never writes (it writes
#: no spaces), so that the documents the standard library wrote are known when read.
STANDARD_SEPARATOR = '": '


def dumps_bytes(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, ensure_ascii=False).encode()


def dumps(value: Any) -> str:
    return dumps_bytes(value).decode()


def loads(text: str | bytes) -> Any:
    """Read JSON; text orjson may read wrong (integers beyond 64 bits) is read exactly.

    NOTE: any text with the standard library's key separator goes to it: the documents it
    wrote for orjson (all of those with such integers), and others that merely look
    alike (a string holding ``": ``), read a little slower but the same.
    """
    if isinstance(text, str):
        exact = STANDARD_SEPARATOR in text
    else:
        exact = STANDARD_SEPARATOR.encode() in text
    if exact:
        return json.loads(text)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
