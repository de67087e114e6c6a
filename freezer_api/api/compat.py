# SPDX-License-Identifier: Apache-2.0
"""Freezer wire quirks and request parsing, each named and tested."""

from __future__ import annotations

import json
import math
from typing import Any

import falcon

from freezer_api import jsonfast
from freezer_api.api.errors import PayloadTooLarge
from freezer_api.errors import InvalidDocument, PreconditionFailed
from freezer_api.service.search import INTEGER_RANGE, Search, parse_search
from freezer_api.storage.base import Page


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite(text: str) -> float:
    """A JSON number with a fraction or exponent, which must fit in a double to be kept."""
    number = float(text)
    if math.isinf(number):
        raise ValueError(f"the number {text[:40]} is beyond a double (about 1.8e308)")
    return number


#: How deep a request body may nest objects and arrays (Freezer's documents: 4 or 5)
MAX_DEPTH = 20


#: What ``read_json`` returns when the request has no body.
NO_BODY: Any = object()

JSON_TYPES = {dict: "object", list: "array", str: "string", int: "number", float: "number"}


def json_type(value: Any) -> str:
    """Name the JSON type of a parsed value, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return JSON_TYPES.get(type(value), type(value).__name__)


def read_json(req: falcon.Request, max_size: int) -> Any:
    """Return the JSON body, or ``NO_BODY`` when there is none.

    Quirks: the body is parsed as JSON whatever its Content-Type says (clients post
    without one), and only a positive Content-Length announces a body.
    """
    length = req.content_length
    if not length:
        return NO_BODY
    if length > max_size:
        raise PayloadTooLarge(f"The request body is {length} bytes; the limit is {max_size} bytes.")
    raw = req.bounded_stream.read(length)
    try:
        # NOTE: JSON is UTF-8 (RFC 8259); json.loads would also take UTF-16 and UTF-32, and
        # let surrogates through as UTF-8 bytes, past the checks below
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidDocument(
            f"The request body must be JSON in UTF-8: {error.reason} at byte {error.start}."
        ) from None
    try:
        document = json.loads(text, parse_constant=_reject_constant, parse_float=_finite)
    except (ValueError, RecursionError) as error:
        # NOTE: ValueError covers JSONDecodeError and the numbers beyond a double.
        raise InvalidDocument(f"Malformed JSON in the request body: {error}") from None
    if raw.count(b"{") + raw.count(b"[") > MAX_DEPTH and jsonfast.deeper_than(document, MAX_DEPTH):
        # NOTE: the same rule on every engine: MariaDB's JSON check stops at 32 levels,
        # and the stored documents wrap the body in a level or three of their own
        raise InvalidDocument(
            f"The request body nests objects and arrays more than {MAX_DEPTH} levels deep."
        )
    if "\\u0000" in text and jsonfast.any_string(document, jsonfast.holds_nul):
        # NOTE: PostgreSQL cannot store U+0000 in text, so no engine is asked to.
        raise InvalidDocument("Strings in the request body must not contain U+0000 (NUL).")
    if ("\\ud" in text or "\\uD" in text) and jsonfast.any_string(
        document, jsonfast.holds_lone_surrogate
    ):
        # NOTE: JSON lets \uD800-\uDFFF stand alone; such a string is no Unicode text,
        # and no engine (nor a JSON answer in UTF-8) can hold it.
        raise InvalidDocument(
            "Strings in the request body must be Unicode text: a surrogate escape "
            "(\\uD800-\\uDFFF) is only valid as half of a pair."
        )
    return document


def read_object(req: falcon.Request, max_size: int) -> dict[str, Any]:
    """Return the body, which must be a JSON object."""
    body = read_json(req, max_size)
    if body is NO_BODY:
        raise InvalidDocument("A JSON object is required as the request body.")
    if not isinstance(body, dict):
        raise InvalidDocument(f"The request body must be a JSON object, not {json_type(body)}.")
    return body


def _int_param(req: falcon.Request, name: str) -> int | None:
    raw = req.get_param(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise InvalidDocument(f"The {name} parameter must be an integer, not {raw!r}.") from None
    if value < 0:
        raise InvalidDocument(f"The {name} parameter must not be negative.")
    if value not in INTEGER_RANGE:
        raise InvalidDocument(f"The {name} parameter must be at most {INTEGER_RANGE.stop - 1}.")
    return value


def page_of(req: falcon.Request, default_limit: int, max_limit: int) -> Page:
    """Read ``limit``, ``offset`` and ``marker``.

    Quirk: Freezer clients send ``limit=0`` to mean "the default" (the old server's
    ``limit or 10``). A limit above ``max_limit`` is lowered to it.
    """
    limit = _int_param(req, "limit") or default_limit
    offset = _int_param(req, "offset") or 0
    marker = req.get_param("marker") or None
    return Page(limit=min(limit, max_limit), offset=offset, marker=marker)


def if_match_version(req: falcon.Request) -> int | None:
    """Return the version named by ``If-Match`` (an ETag of ours), or None."""
    header = req.get_header("If-Match")
    if header is None or header.strip() == "*":
        return None
    tag = header.strip().removeprefix("W/").strip('"')
    try:
        return int(tag)
    except ValueError:
        raise PreconditionFailed(f"If-Match {header} does not match the current version.") from None


def search_of(req: falcon.Request, max_size: int) -> Search:
    """Read the search document.

    Quirk: Freezer clients send it as the JSON body of the GET. The same filters are
    also accepted as query parameters (``?backup_name=etc``).
    """
    body = read_json(req, max_size)
    query = {key: value for key, value in req.params.items() if isinstance(value, str)}
    return parse_search(None if body is NO_BODY else body, query)


def all_projects(req: falcon.Request) -> bool:
    """Read the jobs list's ``all_projects`` flag (400 when it is not a boolean)."""
    return flag(req, "all_projects")


def flag(req: falcon.Request, name: str) -> bool:
    """Read a boolean query parameter, false when absent (400 when it is not a boolean)."""
    raw = req.get_param(name)
    if raw is None:
        return False
    if raw.lower() in {"true", "1", "yes"}:
        return True
    if raw.lower() in {"false", "0", "no"}:
        return False
    raise InvalidDocument(f"The {name} parameter must be true or false, not {raw!r}.")
