# SPDX-License-Identifier: Apache-2.0
"""Freezer search documents, turned into storage filters that run in the database."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from typing import Any

from freezer_api.errors import InvalidDocument
from freezer_api.storage.base import AnyOf, Filter, SortKey

Pair = tuple[str, Any]
SCALARS = (str, int, float, bool, type(None))


@dataclasses.dataclass(frozen=True)
class Search:
    """``{"match": [{k: v}], "match_not": [{k: v}]}``, plus the time window of backups."""

    match: tuple[Pair, ...] = ()
    match_not: tuple[Pair, ...] = ()
    text: tuple[str, ...] = ()
    time_after: int | None = None
    time_before: int | None = None
    #: ``?sort=key:dir,...``: (key, descending) in order
    sort: tuple[tuple[str, bool], ...] = ()
    #: the keys of ``match`` given as query parameters (only indexed keys may be)
    query_keys: tuple[str, ...] = ()
    #: ``?stale=true``: only running jobs whose client has been silent beyond the lease
    stale: bool = False


#: Query parameters that are not filters.
RESERVED = frozenset(
    {
        "limit",
        "offset",
        "marker",
        "all_projects",
        "time_after",
        "time_before",
        "sort",
        "stale",
        "liveness",
    }
)


def parse_sort(text: str | None) -> tuple[tuple[str, bool], ...]:
    """Read ``key[:asc|desc][,key[:asc|desc]]`` (API-SIG sorting), ascending by default."""
    if not text:
        return ()
    keys: list[tuple[str, bool]] = []
    for part in text.split(","):
        key, _, direction = part.strip().partition(":")
        if not key or direction not in {"", "asc", "desc"}:
            raise InvalidDocument(
                f"sort must be key:asc or key:desc, separated by commas, not {part.strip()!r}."
            )
        if key in {seen for seen, _ in keys}:
            raise InvalidDocument(f"sort names {key} twice.")
        keys.append((key, direction == "desc"))
    return tuple(keys)


def _pairs(value: Any, name: str) -> list[Pair]:
    if value is None:
        return []
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise InvalidDocument(f"{name} must be a list of {{key: value}} objects.")
    pairs: list[Pair] = []
    for item in value:
        if not isinstance(item, dict):
            raise InvalidDocument(f"{name} must be a list of {{key: value}} objects.")
        for key, found in item.items():
            if not isinstance(found, SCALARS):
                raise InvalidDocument(
                    f"{name}: the value of {key} must be a string, number, boolean or null."
                )
            if not _comparable(found):
                raise InvalidDocument(f"{name}: the value of {key} {BEYOND_64_BITS}")
            pairs.append((key, found))
    return pairs


#: What the databases compare integers within (a signed 64-bit integer).
INTEGER_RANGE = range(-(2**63), 2**63)
BEYOND_64_BITS = "is beyond what searches compare (integers from -2**63 to 2**63-1)."


def _comparable(value: Any) -> bool:
    return not isinstance(value, int) or isinstance(value, bool) or value in INTEGER_RANGE


def _time(value: Any, name: str) -> int | None:
    if value is None:
        return None
    number: int
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            number = int(str(value))
        except ValueError:
            raise InvalidDocument(f"{name} must be an integer timestamp.") from None
    else:
        number = value
    if not _comparable(number):
        raise InvalidDocument(f"{name} {BEYOND_64_BITS}")
    return number


def parse_search(document: Any, query: Mapping[str, str]) -> Search:
    """Read a search from the GET body (``document``) and the query string.

    The CLI's ``{"match": [{"_all": TEXT}]}`` searches TEXT in the kind's main fields;
    when TEXT is a JSON list of ``{k: v}``, that list is the match instead.
    """
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise InvalidDocument("The search document must be a JSON object.")
    match = _pairs(document.get("match"), "match")
    match_not = _pairs(document.get("match_not"), "match_not")
    query_keys = []
    for key, value in query.items():
        if key in ("search", "q"):
            match.append(("_all", value))
        elif key not in RESERVED:
            match.append((key, value))
            query_keys.append(key)
    plain: list[Pair] = []
    text: list[str] = []
    for key, value in match:
        if key != "_all":
            plain.append((key, value))
            continue
        nested = _nested_match(value)
        if nested is None:
            text.append(str(value))
        else:
            plain.extend(nested)
    return Search(
        match=tuple(plain),
        match_not=tuple(match_not),
        text=tuple(text),
        time_after=_time(document.get("time_after", query.get("time_after")), "time_after"),
        time_before=_time(document.get("time_before", query.get("time_before")), "time_before"),
        sort=parse_sort(query.get("sort")),
        query_keys=tuple(query_keys),
        stale=_stale(query.get("stale")),
    )


def _stale(value: str | None) -> bool:
    if value is None:
        return False
    if value.lower() in {"true", "1", "yes"}:
        return True
    raise InvalidDocument(f"stale is a filter: stale=true, or leave it out (not {value!r}).")


def _nested_match(value: Any) -> list[Pair] | None:
    if not isinstance(value, str) or not value.lstrip().startswith(("[", "{")):
        return None
    try:
        return _pairs(json.loads(value), "_all")
    except ValueError:
        return None


@dataclasses.dataclass(frozen=True)
class SearchFields:
    """Where a kind's search keys live: indexed columns, or paths in the document."""

    columns: Mapping[str, str]
    path_of: Callable[[str], tuple[str, ...]]
    #: the columns (or paths) a free-text ``_all`` search compares with
    text: tuple[str | tuple[str, ...], ...]
    #: the keys a list may be sorted by (``?sort=``): indexed columns, by API name
    sortable: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def order(self, search: Search) -> tuple[SortKey, ...]:
        """The storage order of ``search.sort``. Raises InvalidDocument on an unknown key."""
        for key, _ in search.sort:
            if key not in self.sortable:
                allowed = ", ".join(sorted(self.sortable)) or "none"
                raise InvalidDocument(f"Unknown sort key {key!r}; the keys are: {allowed}.")
        return tuple(SortKey(self.sortable[key], descending) for key, descending in search.sort)

    def filters(self, search: Search) -> tuple[Filter | AnyOf, ...]:
        """The storage filters of ``search``.

        Raises InvalidDocument for a query parameter that is no indexed key: a typo
        (``time_afer``) would otherwise match nothing, silently. Other document keys are
        searched with the search document of the body.
        """
        for key in search.query_keys:
            if key not in self.columns:
                accepted = ", ".join(sorted(RESERVED | {"search", "q"} | set(self.columns)))
                raise InvalidDocument(
                    f"Unknown query parameter {key!r}; this list accepts: {accepted}. Other "
                    'keys of the documents are searched with {"match": [{key: value}]} in '
                    "the body."
                )
        found: list[Filter | AnyOf] = [
            Filter(self._field(key), value) for key, value in search.match
        ]
        found += [Filter(self._field(key), value, negate=True) for key, value in search.match_not]
        found += [AnyOf(tuple(Filter(field, text) for field in self.text)) for text in search.text]
        return tuple(found)

    def _field(self, key: str) -> str | tuple[str, ...]:
        return self.columns.get(key) or self.path_of(key)
