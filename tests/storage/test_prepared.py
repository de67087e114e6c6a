# SPDX-License-Identifier: Apache-2.0
"""The prepared read path against plain SQLAlchemy, and the SQLAlchemy internals it reads."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import bindparam, event, insert
from sqlalchemy.sql.compiler import SQLCompiler

from freezer_api.storage.base import Filter, Page, Query, Record, Scope, SortKey
from freezer_api.storage.sql.models import TABLES
from freezer_api.storage.sql.prepared import Prepared

NAMES = ["etc", "var", "", None]
HOSTS = ["h1", "h2", None]
TIMES = [10, 20, 30, None]


@pytest.fixture
def catalogue(storage):
    """Backups of two projects and two users, with repeated and missing values."""
    number = 0
    for project in ("p1", "p2"):
        for user in ("u1", "u2"):
            for name in NAMES:
                for time_stamp in TIMES:
                    number += 1
                    fields = {
                        "backup_name": name,
                        "hostname": HOSTS[number % len(HOSTS)],
                        "time_stamp": time_stamp,
                        "level": number % 3,
                        "status": "available" if number % 4 else "error",
                    }
                    storage.backups.insert(
                        Record(f"b{number:03}", project, user, {"n": number}, fields)
                    )
    return storage


FIELD_VALUES = {
    "backup_name": st.sampled_from([*NAMES, "nope", 7, True]),
    "hostname": st.sampled_from([*HOSTS, 1.5]),
    "time_stamp": st.sampled_from([*TIMES, "10", False, 2**40]),
    "level": st.sampled_from([0, 1, 2, None, "1"]),
    "status": st.sampled_from(["available", "error", None]),
}
filters = st.sampled_from(sorted(FIELD_VALUES)).flatmap(
    lambda field: st.builds(Filter, st.just(field), FIELD_VALUES[field], st.booleans())
)
scopes = st.sampled_from(
    [
        Scope(project_id="p1"),
        Scope(user_id="u2"),
        Scope(project_id="p2", user_id="u1"),
        Scope(everywhere=True),
        Scope(project_id="p1", shared=True),
    ]
)
orders = st.lists(
    st.builds(SortKey, st.sampled_from(["time_stamp", "backup_name", "hostname", "doc_id"])),
    max_size=2,
    unique_by=lambda key: key.field,
).map(tuple)
queries = st.builds(
    Query,
    page=st.builds(Page, limit=st.integers(1, 40), offset=st.integers(0, 30)),
    filters=st.lists(filters, max_size=3).map(tuple),
    order=orders,
    time_after=st.sampled_from([None, 15]),
    time_before=st.sampled_from([None, 25]),
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    derandomize=True,
)
@given(scope=scopes, query=queries)
def test_prepared_searches_find_what_sqlalchemy_finds(catalogue, scope, query):
    """Differential: a search through its prepared statement (built from its shape) and the
    same search built and run by SQLAlchemy give the same rows, in the same order."""
    repository = catalogue.backups
    shaped = repository._search_shape(scope, query)
    assert shaped is not None
    prepared_ids = [record.doc_id for record in repository.search(scope=scope, query=query)]
    with catalogue.engine.connect() as connection:
        statement, values = repository.search_statement(scope, query, connection)
        plain_ids = [row.doc_id for row in connection.execute(statement, values)]
    assert prepared_ids == plain_ids


def backup_row() -> dict[str, Any]:
    """The columns of one backups row, as an insert binds them."""
    now = datetime.datetime(2026, 12, 1, 12, 30, 15)
    return {
        "doc_id": "b1",
        "project_id": "p1",
        "user_id": "u1",
        "version": 1,
        "created_at": now,
        "updated_at": now,
        "doc": {"backup_metadata": {"n": 1}, "status": "available"},
        "status": "available",
    }


def test_the_sqlalchemy_internal_the_prepared_path_reads(storage):
    """``SQLCompiler._bind_processors`` (private) holds the conversions SQLAlchemy applies
    before the driver; what the prepared path sends is what SQLAlchemy's own run sends."""
    engine = storage.engine
    with engine.connect():
        pass  # the dialect learns the server on the first connection
    table = TABLES["backups"]
    values = backup_row()
    statement = insert(table).values({name: bindparam(name) for name in values})
    compiled = statement.compile(dialect=engine.dialect)
    processors = compiled._bind_processors
    assert callable(processors["doc"]), "the JSON column's conversion is in _bind_processors"
    sent: list[Any] = []

    def capture(conn, cursor, sql, parameters, context, executemany) -> None:
        sent.append(parameters)

    event.listen(engine, "before_cursor_execute", capture)
    try:
        with engine.begin() as connection:
            connection.execute(statement, values)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    ours = Prepared(statement, engine.dialect).parameters(values)
    if isinstance(ours, dict):
        # NOTE: psycopg wraps JSON in objects without equality; compare what they hold
        ours = {name: getattr(value, "obj", value) for name, value in ours.items()}
        sent[0] = {name: getattr(value, "obj", value) for name, value in sent[0].items()}
    else:
        sent[0] = tuple(sent[0])
    assert ours == sent[0]


def test_prepared_parameters_are_what_sqlalchemy_binds(storage):
    """The prepared statements' own parameter building matches SQLAlchemy's, on every engine."""
    engine = storage.engine
    with engine.connect():
        pass  # the dialect learns the server on the first connection
    repository = storage.backups
    table = TABLES["backups"]
    insert_values = backup_row()
    cases: list[tuple[Any, dict[str, Any]]] = [
        (
            repository.get_statement(Scope(project_id="p1"), "first"),
            {"scope_project": "p1", "scope_user": None, "doc_id": "b2"},
        ),
        (
            repository.shaped_statement(
                repository._search_shape(
                    Scope(project_id="p1", user_id="u1"),
                    Query(page=Page(limit=10, offset=5), time_after=1, time_before=9),
                )[0]
            ),
            {
                "scope_project": "p1",
                "scope_user": "u1",
                "limit": 10,
                "offset": 5,
                "time_after": 1,
                "time_before": 9,
            },
        ),
        (
            insert(table).values({name: bindparam(name) for name in insert_values}),
            insert_values,
        ),
    ]
    for statement, values in cases:
        prepared = Prepared(statement, engine.dialect)
        compiled = statement.compile(dialect=engine.dialect)
        assert isinstance(compiled, SQLCompiler)
        expected = compiled.construct_params(values)
        for name, process in compiled._bind_processors.items():
            if callable(process) and name in expected:
                expected[name] = process(expected[name])
        given = prepared.parameters(values)
        if compiled.positional:
            assert given == tuple(expected[name] for name in compiled.positiontup or ())
        else:
            # NOTE: psycopg wraps JSON in objects without equality; compare what they hold
            assert isinstance(given, dict)
            assert {name: getattr(value, "obj", value) for name, value in given.items()} == {
                name: getattr(value, "obj", value) for name, value in expected.items()
            }
    # a required value left out is an error, not a NULL
    with pytest.raises(KeyError):
        Prepared(cases[2][0], engine.dialect).parameters({"doc_id": "b1"})
