# SPDX-License-Identifier: Apache-2.0
"""The backend's lifecycle, as the app and the CLIs use it, on every engine under test."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path

import pytest

from freezer_api.storage import open_backend
from freezer_api.storage.base import Backend, Record, SchemaNotReady, Scope
from freezer_api.storage.sql import SqlBackend
from tests import throwaway
from tests.conftest import SERVER_ENGINES, engines_under_test, server_engine


@pytest.fixture(params=engines_under_test())
def blank_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no schema yet."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'blank.db'}"
        return
    admin = server_engine(request.param)
    url = throwaway.create(admin)
    try:
        yield url
    finally:
        throwaway.drop(SERVER_ENGINES[request.param] or "", url)


def test_the_sql_backend_has_every_method_of_the_contract():
    """As warehouse's ``verifyClass``: the same methods, with the same parameters."""
    for name, declared in inspect.getmembers(Backend, inspect.isfunction):
        if name.startswith("_"):
            continue
        implemented = getattr(SqlBackend, name)
        assert inspect.signature(implemented).parameters.keys() == (
            inspect.signature(declared).parameters.keys()
        ), name


def test_a_blank_database_is_prepared_only_where_it_is_embedded(blank_url):
    backend = open_backend(blank_url)
    assert backend.version() is None
    assert backend.check() and "freezer-manage db sync" in backend.check()[0]
    with pytest.raises(SchemaNotReady):
        backend.prepare(create=False)
    if blank_url.startswith("sqlite"):
        backend.prepare(create=True)
    else:
        with pytest.raises(SchemaNotReady):
            backend.prepare(create=True)
        assert backend.upgrade() == backend.head()
    assert backend.version() == backend.head()
    assert backend.check() == []
    backend.prepare(create=False)


def test_export_then_import_through_the_backend(blank_url, tmp_path):
    source = open_backend(blank_url)
    source.upgrade()
    storage = source.open()
    try:
        storage.backups.insert(Record(doc_id="b1", project_id="p1", user_id="u1", doc={"n": 1}))
    finally:
        storage.close()
    exported = list(source.export())
    assert [(line["kind"], line["doc_id"]) for line in exported] == [("backups", "b1")]

    target = open_backend(f"sqlite:///{tmp_path / 'target.db'}")
    target.upgrade()
    assert target.import_records(exported) == {"backups": 1}
    copied = target.open()
    try:
        found = copied.backups.get(scope=Scope(project_id="p1"), doc_id="b1")
        assert found is not None and found.doc == {"n": 1}
    finally:
        copied.close()


def test_processes_that_start_together_prepare_one_sqlite_database_in_turn(tmp_path):
    """uwsgi's lazy apps: every worker prepares the database as it starts."""
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    code = (
        "import sys; from freezer_api.storage import open_backend; "
        "open_backend(sys.argv[1], {}).prepare(create=True)"
    )
    starters = [
        subprocess.Popen([sys.executable, "-c", code, url], stderr=subprocess.PIPE)
        for _ in range(6)
    ]
    errors = [starter.communicate(timeout=60)[1].decode() for starter in starters]
    assert [starter.returncode for starter in starters] == [0] * 6, errors
    assert open_backend(url, {}).check() == []


@pytest.mark.parametrize("name", list(SERVER_ENGINES))
def test_a_connection_lost_between_requests_is_one_warning_and_replaced(name, caplog):
    """A pooled connection whose server went away after its last statement (a Galera node
    killed, a server restarted) is invalidated with one warning when it is returned, not
    logged as an error with a traceback, and the pool's next connection works."""
    from sqlalchemy import text

    from freezer_api.storage.sql.engine import create_db_engine

    engine = create_db_engine(server_engine(name), {"pool_size": 1, "max_overflow": 0})
    killer = create_db_engine(server_engine(name), {})
    try:
        raw = engine.raw_connection()
        current = raw.cursor()
        is_postgresql = engine.dialect.name == "postgresql"
        current.execute("SELECT pg_backend_pid()" if is_postgresql else "SELECT CONNECTION_ID()")
        (server_id,) = current.fetchall()[0]
        current.close()
        with killer.connect() as other:
            if is_postgresql:
                other.execute(text("SELECT pg_terminate_backend(:id)"), {"id": server_id})
            else:
                other.exec_driver_sql(f"KILL {int(server_id)}")
        caplog.clear()
        with caplog.at_level("INFO"):
            raw.close()
        errors = [record for record in caplog.records if record.levelname == "ERROR"]
        assert errors == []
        warnings = [
            record.getMessage() for record in caplog.records if record.levelname == "WARNING"
        ]
        assert len(warnings) == 1, warnings
        assert "lost on return to the pool" in warnings[0]
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT 1").scalar() == 1
    finally:
        engine.dispose()
        killer.dispose()


@pytest.mark.parametrize("name", list(SERVER_ENGINES))
def test_a_connection_returned_inside_a_transaction_is_rolled_back(name):
    """The pool still rolls back what a returned connection left open."""
    from freezer_api.storage.sql.engine import create_db_engine

    engine = create_db_engine(server_engine(name), {"pool_size": 1, "max_overflow": 0})
    try:
        raw = engine.raw_connection()
        current = raw.cursor()
        current.execute("CREATE TEMPORARY TABLE returned_open (n INTEGER)")
        raw.commit()
        current.execute("INSERT INTO returned_open VALUES (1)")
        current.close()
        raw.close()
        again = engine.raw_connection()
        current = again.cursor()
        current.execute("SELECT COUNT(*) FROM returned_open")
        assert [tuple(row) for row in current.fetchall()] == [(0,)]
        current.close()
        again.close()
    finally:
        engine.dispose()
