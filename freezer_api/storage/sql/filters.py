# SPDX-License-Identifier: Apache-2.0
"""Search conditions in SQL: indexed columns, and type-exact equality at a JSON path.

Freezer's search compares values exactly and type-sensitively (``"10"`` is not
``10``). For a path into the JSON document each engine is asked for the value's
JSON type and its text, so the comparison runs in the database on every engine.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Text,
    and_,
    bindparam,
    false,
    func,
    literal,
    not_,
    or_,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.sql.elements import ColumnClause

# JSON type names, per engine, of the scalar values a search may hold.
_SQLITE_TYPES = {str: "text", int: "integer", float: "real", type(None): "null"}
_POSTGRESQL_TYPES = {str: "string", int: "number", float: "number", type(None): "null"}
_MYSQL_TYPES = {str: "STRING", int: "INTEGER", float: "DOUBLE", type(None): "NULL"}


def _text_of(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def json_path_string(path: tuple[str, ...]) -> str:
    """``("a", "b")`` -> ``$."a"."b"`` (SQLite and MySQL path syntax)."""
    return "$" + "".join(f".{json.dumps(key)}" for key in path)


def json_equals(
    dialect: str, column: Any, path: tuple[str, ...], value: Any
) -> ColumnElement[bool]:
    """Return "the JSON value at ``path`` equals ``value``, type included"."""
    if dialect == "sqlite":
        path_string = json_path_string(path)
        kind = func.json_type(column, path_string)
        if isinstance(value, bool):
            return kind == ("true" if value else "false")
        matched = kind == _SQLITE_TYPES[type(value)]
        if value is None:
            return matched
        return and_(matched, func.json_extract(column, path_string) == value)
    if dialect == "postgresql":
        path_array = sql_cast(literal(list(path), ARRAY(Text)), ARRAY(Text))
        kind = func.json_typeof(column.op("#>")(path_array))
        text = column.op("#>>")(path_array)
        expected = "boolean" if isinstance(value, bool) else _POSTGRESQL_TYPES[type(value)]
    else:
        extracted = func.json_extract(column, json_path_string(path))
        kind = func.json_type(extracted)
        text = func.json_unquote(extracted)
        expected = "BOOLEAN" if isinstance(value, bool) else _MYSQL_TYPES[type(value)]
    if value is None:
        return kind == expected
    return and_(kind == expected, text == _text_of(value))


def column_match(column: ColumnClause[Any], value: Any) -> str:
    """How ``column`` compares with ``value``: "null", "never" (types differ) or "equal"."""
    python_type = column.type.python_type
    if value is None:
        return "null"
    if isinstance(value, bool) != issubclass(python_type, bool) or not isinstance(
        value, python_type
    ):
        return "never"
    return "equal"


def column_equals(column: ColumnClause[Any], value: Any) -> ColumnElement[bool]:
    """Return "``column`` equals ``value``", false when the types cannot be equal."""
    match = column_match(column, value)
    if match == "null":
        return column.is_(None)
    if match == "never":
        return false()
    equal: ColumnElement[bool] = column == value
    return equal


def column_condition(column: ColumnClause[Any], match: str, name: str) -> ColumnElement[bool]:
    """``column_equals`` for a value known only by its ``column_match`` and bind ``name``
    (a statement prepared once, the value given at each run)."""
    if match == "null":
        return column.is_(None)
    if match == "never":
        return false()
    equal: ColumnElement[bool] = column == bindparam(name)
    return equal


def negated(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    """Return "not ``condition``", where an absent value (NULL) counts as "differs"."""
    return not_(func.coalesce(condition, false()))


def any_of(conditions: list[ColumnElement[bool]]) -> ColumnElement[bool]:
    combined: ColumnElement[bool] = or_(false(), *conditions)
    return combined


def same(column: ColumnClause[Any], value: Any) -> ColumnElement[bool]:
    """``column`` holds ``value``, NULL included (a marker's key, for keyset paging)."""
    return column.is_(None) if value is None else column == value


def beyond(
    column: ColumnClause[Any], value: Any, descending: bool, nulls_high: bool
) -> ColumnElement[bool]:
    """``column`` comes after ``value`` in an order on it (keyset paging).

    The engine sorts NULL as one value below every other (SQLite, MariaDB/MySQL) or above
    (PostgreSQL, ``nulls_high``), in either direction.
    """
    upward = not descending
    if value is None:
        # past NULL: every value when NULL is at the start of this order, none otherwise
        return column.is_not(None) if upward != nulls_high else false()
    after: ColumnElement[bool] = column > value if upward else column < value
    if upward == nulls_high:
        return or_(after, column.is_(None))
    return after
