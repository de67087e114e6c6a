# SPDX-License-Identifier: Apache-2.0
"""JSON encoding with orjson, falling back to the standard library for what orjson cannot keep.

orjson is several times faster, but handles integers only within 64 bits, which a client
may legitimately go beyond in a document: it refuses to write them, and reads them as
floats (losing digits). Documents holding them are written by the standard library, and
read back with it too.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
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
#: ``{"name":"value"`` with no quote or backslash inside: every quote is a delimiter
_PLAIN_HEAD = re.compile(r'\{"([^"\\]*)":"([^"\\]*)"')
_UNKNOWN: Any = object()
#: how many distinct texts before the kept key a reader remembers
_HEADS_KEPT = 1024


def dumps_bytes(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, ensure_ascii=False, default=_fragment_value).encode()


def _fragment_value(value: Any) -> Any:
    """What the standard library writes for an ``orjson.Fragment``: the value it holds."""
    if isinstance(value, orjson.Fragment):
        return json.loads(orjson.dumps(value))
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


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


def any_string(value: Any, test: Callable[[str], bool]) -> bool:
    """Tell whether ``test`` holds for any string (key or value) in a parsed document.

    NOTE: iterative, so that no nesting depth exhausts Python's stack.
    """
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if test(item):
                return True
        elif isinstance(item, dict):
            for key, child in item.items():
                if test(key):
                    return True
                pending.append(child)
        elif isinstance(item, list):
            pending.extend(item)
    return False


def deeper_than(value: Any, limit: int) -> bool:
    """Tell whether objects and arrays nest more than ``limit`` levels in ``value``."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        children = item.values() if isinstance(item, dict) else item
        if isinstance(item, (dict, list)):
            if depth > limit:
                return True
            pending.extend((child, depth + 1) for child in children)
    return False


def holds_nul(text: str) -> bool:
    """U+0000: JSON can carry it, PostgreSQL's text cannot hold it, so no engine is asked to."""
    return "\x00" in text


def holds_lone_surrogate(text: str) -> bool:
    """A surrogate (U+D800-U+DFFF) standing alone: JSON lets ``\\uD800`` be written, but it is
    no Unicode text, and neither UTF-8 nor any engine can hold it."""
    if text.isascii():
        # NOTE: known without reading the text; most strings are ASCII
        return False
    try:
        text.encode()
    except UnicodeEncodeError:
        return True
    return False


def unstorable(value: Any) -> str | None:
    """Name what in a parsed document's strings no engine is asked to store, or None."""
    # NOTE: orjson writes U+0000 as an escape and refuses lone surrogates (and integers
    # beyond 64 bits): one fast pass clears nearly every document; the rest are looked at
    # string by string.
    try:
        suspect = b"\\u0000" in orjson.dumps(value)
    except TypeError:
        suspect = True
    if suspect and any_string(value, holds_nul):
        return "U+0000 (NUL)"
    if suspect and any_string(value, holds_lone_surrogate):
        return "a lone surrogate (U+D800-U+DFFF)"
    return None


def with_key_last(value: Any, last: str) -> Any:
    """``value`` with its top-level ``last`` key moved to the end; ``value`` itself if
    there is nothing to move."""
    if type(value) is dict and last in value and next(reversed(value)) != last:
        return {key: item for key, item in value.items() if key != last} | {last: value[last]}
    return value


def document_writer(last: str) -> Callable[[Any], str]:
    """``dumps`` for stored documents: a top-level ``last`` key is always written last.

    That is what lets ``reader_keeping`` hand that key's value over as its text.
    NOTE: a partial, not a closure: psycopg caches its JSON dumpers by function, and
    warns on every connection that a closure could leak.
    """
    return functools.partial(_write_with_last, last=last)


def _write_with_last(value: Any, last: str) -> str:
    return dumps(with_key_last(value, last))


def reader_keeping(key: str) -> Callable[[str | bytes], Any]:
    """``loads`` for documents only rendered: the value of ``key`` stays as stored.

    A document ``document_writer(key)`` wrote as ``{"status":"available","key":{...}}``
    (orjson's compact text, one plain string before ``key``) is read as ``{"status":
    "available", "key": orjson.Fragment(...)}``: an answer embeds the value as stored,
    without decoding and encoding it again (the answer's bytes are the same). Any other
    text is read as ``loads`` reads it.
    NOTE: the Fragment cannot be read; the text before ``key`` repeats from document to
    document (a status, a user name), so it is checked once and remembered.
    """
    mark = f',"{key}":'
    skip = len(mark)
    heads: dict[str, tuple[str, str] | None] = {}
    # the text up to the value of the document read last (the next one likely has it too),
    # the name and value before it, and its length: swapped as a whole, shared by threads
    recent = [("\0", "", "", 0)]

    def read(text: str | bytes) -> Any:
        if isinstance(text, str):
            prefix, name, value, start = recent[0]
            if text.startswith(prefix) and text[-1] == "}":
                return {name: value, key: orjson.Fragment(text[start:-1])}
            end = text.find(mark)
            if end > 0 and text[-1] == "}":
                head = text[:end]
                parsed = heads.get(head, _UNKNOWN)
                if parsed is _UNKNOWN:
                    match = _PLAIN_HEAD.fullmatch(head)
                    parsed = None if match is None else (match[1], match[2])
                    if len(heads) < _HEADS_KEPT:
                        heads[head] = parsed
                if parsed is not None:
                    recent[0] = (head + mark, *parsed, end + skip)
                    return {parsed[0]: parsed[1], key: orjson.Fragment(text[end + skip : -1])}
        return loads(text)

    return read
