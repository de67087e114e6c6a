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

#: What the standard library (and PostgreSQL's and MySQL's JSON output) writes after each key;
#: orjson writes no spaces.
STANDARD_SEPARATOR = '": '
_STANDARD_SEPARATOR_BYTES = STANDARD_SEPARATOR.encode()
#: bytes -> "9" for a digit, " " for anything else: a run of 19 nines is a run of 19 digits
_DIGITS = bytes(57 if 48 <= byte <= 57 else 32 for byte in range(256))
#: the shortest digit run of an integer orjson cannot hold (beyond -2**63 .. 2**64 - 1)
_LONG_RUN = b"9" * 19


def dumps_bytes(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, ensure_ascii=False).encode()


def dumps(value: Any) -> str:
    return dumps_bytes(value).decode()


def loads(text: str | bytes) -> Any:
    """Read JSON; text orjson may read wrong (integers beyond 64 bits) is read exactly.

    NOTE: orjson wrote the compact text (no ``": ``), and it never writes such integers.
    Other text (the standard library's, or a database's own rendering of a JSON column)
    is read by the standard library when it holds a run of 19 digits or more, which every
    such integer is (a long string of digits costs only a slower read).
    """
    if isinstance(text, str):
        raw = text.encode() if STANDARD_SEPARATOR in text else b""
    else:
        raw = text if _STANDARD_SEPARATOR_BYTES in text else b""
    if raw and _LONG_RUN in raw.translate(_DIGITS):
        return json.loads(text)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
