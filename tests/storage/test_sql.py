# SPDX-License-Identifier: Apache-2.0
"""SQL specifics: migrations match the models, SQLite settings, and list queries use indexes."""

from __future__ import annotations

import contextlib
import datetime
import threading
import time
from collections.abc import Iterator
from typing import cast

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import event, insert, text

from freezer_api.storage import open_storage
from freezer_api.storage.base import Scope, StorageUnavailable, Use
from freezer_api.storage.sql import SqlStorage, migrate
from freezer_api.storage.sql import engine as engines
from freezer_api.storage.sql.models import TABLES, Base
from tests import throwaway
from tests.conftest import server_engine


def test_migrations_build_exactly_the_models(storage):
    with storage.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []
    assert migrate.current(storage.engine) == migrate.head()


def test_sync_is_idempotent(settings, storage):
    migrate.upgrade_url(settings.database_url)
    assert migrate.current(storage.engine) == migrate.head()


@pytest.fixture
def sqlite_storage(tmp_path):
    url = f"sqlite:///{tmp_path / 'plans.db'}"
    migrate.upgrade_url(url)
    opened = open_storage(url, {})
    yield opened
    opened.close()


@contextlib.contextmanager
def server_storage(request: pytest.FixtureRequest, server: str) -> Iterator[SqlStorage]:
    """A storage on an emptied throw-away database of ``server``; skips if it is not under test."""
    server_engine(server)
    url = request.getfixturevalue("server_databases")[server]
    throwaway.empty(url)
    with opened_storage(url) as storage:
        yield storage


@contextlib.contextmanager
def opened_storage(url: str) -> Iterator[SqlStorage]:
    opened = cast(SqlStorage, open_storage(url, {}))
    try:
        yield opened
    finally:
        opened.close()


@contextlib.contextmanager
def fresh_storage(server: str) -> Iterator[SqlStorage]:
    """A storage on a new throw-away database of ``server``, which no statistics cover."""
    admin = server_engine(server)
    url = throwaway.create(admin)
    try:
        migrate.upgrade_url(url)
        with opened_storage(url) as storage:
            yield storage
    finally:
        throwaway.drop(admin, url)


@pytest.fixture
def sqlite_pair(tmp_path):
    """Two storages (two processes' worth) on one new SQLite database."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    migrate.upgrade_url(url)
    first, second = open_storage(url, {}), open_storage(url, {})
    yield first, second
    first.close()
    second.close()


def test_sqlite_runs_in_wal_mode_with_full_sync(sqlite_storage):
    storage = sqlite_storage
    with storage.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1


def plan(storage, sql: str, **params) -> str:
    with storage.engine.connect() as connection:
        rows = connection.execute(text(f"EXPLAIN QUERY PLAN {sql}"), params).all()
    return " | ".join(row[-1] for row in rows)


def test_a_page_is_read_through_an_index_without_sorting(sqlite_storage):
    storage = sqlite_storage
    # NOTE: the cost of a page must not grow with the table: an index seek, no scan, no sort.
    for where in ("user_id = :v", "project_id = :v", "user_id = :v AND backup_name = :n"):
        found = plan(
            storage,
            f"SELECT doc FROM backups WHERE {where} AND pk > 5 ORDER BY pk LIMIT 10",
            v="u",
            n="x",
        )
        assert "USING" in found and "INDEX" in found, found
        assert "TEMP B-TREE" not in found, found
        assert not found.startswith("SCAN backups"), found


def test_default_drivers_are_filled_in():
    assert engines.normalise_url("postgresql://h/db").drivername == "postgresql+psycopg"
    assert engines.normalise_url("mysql://h/db").drivername == "mysql+pymysql"
    assert engines.normalise_url("sqlite:///x.db").drivername == "sqlite"


def test_the_scheduler_poll_is_an_index_seek(sqlite_storage):
    storage = sqlite_storage
    from freezer_api.service.jobs import JobRules
    from freezer_api.service.search import Search
    from freezer_api.storage.base import Page, Query, Scope

    filters = JobRules.search_fields.filters(
        Search(match=(("client_id", "c1"),), match_not=(("status", "completed"),))
    )
    repository = storage.jobs
    query = Query(page=Page(limit=10), filters=filters)
    shape, values = repository._search_shape(Scope(project_id="p1"), query)
    statement = repository.shaped_statement(shape).params(values)
    compiled = statement.compile(storage.engine, compile_kwargs={"literal_binds": True})
    found = plan(storage, str(compiled))
    assert "USING INDEX ix_jobs_project_client" in found, found
    assert "TEMP B-TREE" not in found, found


@pytest.mark.parametrize(
    "scope",
    [Scope(project_id="p1"), Scope(user_id="u1"), Scope(everywhere=True)],
    ids=["project", "user", "everywhere"],
)
def test_a_read_by_id_seeks_the_id_whatever_the_scope(sqlite_storage, scope):
    storage = sqlite_storage
    # NOTE: without statistics SQLite rates project_id = ? as selective as doc_id = ?;
    # a read by id must not walk the project's index, whose cost grows with the table.
    statement = storage.backups.get_statement(scope, "some-id").params(
        scope_project=scope.project_id, scope_user=scope.user_id
    )
    compiled = statement.compile(storage.engine, compile_kwargs={"literal_binds": True})
    found = plan(storage, str(compiled))
    assert "USING INDEX ix_backups_doc_id (doc_id=?)" in found, found


@pytest.mark.parametrize(
    "scope",
    [Scope(project_id="p1"), Scope(user_id="u1"), Scope(project_id="p1", user_id="u1")],
    ids=["project", "user", "both"],
)
def test_a_read_by_id_seeks_the_id_on_postgresql_without_statistics(scope, request):
    with fresh_storage("postgresql") as storage:
        # NOTE: rows written since the last ANALYZE (autovacuum's comes later) leave
        # PostgreSQL without statistics; it then walked the project's (project_id, pk)
        # index for ORDER BY pk LIMIT 1. A database of its own: the shared one may carry
        # the statistics autovacuum took of other tests' rows.
        now = datetime.datetime(2026, 1, 1)
        with storage.engine.begin() as connection:
            connection.execute(
                insert(TABLES["backups"]),
                [
                    {
                        "doc_id": f"b{number}",
                        "project_id": "p1",
                        "user_id": "u1",
                        "version": 1,
                        "created_at": now,
                        "updated_at": now,
                        "doc": {"n": number},
                    }
                    for number in range(3000)
                ],
            )
        statement = storage.backups.get_statement(scope, "b2500").params(
            scope_project=scope.project_id, scope_user=scope.user_id
        )
        compiled = statement.compile(storage.engine, compile_kwargs={"literal_binds": True})
        with storage.engine.connect() as connection:
            found = "\n".join(connection.execute(text(f"EXPLAIN {compiled}")).scalars())
        assert "ix_backups_doc_id" in found, found
        assert storage.backups.get(scope=scope, doc_id="b2500").doc == {"n": 2500}


def test_reads_by_id_find_records_on_every_engine(storage):
    from freezer_api.storage.base import Record

    for number in range(3):
        storage.backups.insert(
            Record(doc_id=f"b{number}", project_id="p1", user_id="u1", doc={"n": number})
        )
    found = storage.backups.get(scope=Scope(project_id="p1"), doc_id="b1")
    assert found is not None and found.doc == {"n": 1} and found.version == 1
    assert storage.backups.get(scope=Scope(user_id="u1"), doc_id="b2").doc == {"n": 2}
    assert storage.backups.get(scope=Scope(project_id="p2"), doc_id="b1") is None
    assert storage.backups.exists(doc_id="b0") and not storage.backups.exists(doc_id="b9")
    many = storage.backups.get_many(scope=Scope(project_id="p1"), doc_ids=["b2", "b0", "b9", "b2"])
    assert {key: record.doc for key, record in many.items()} == {"b0": {"n": 0}, "b2": {"n": 2}}
    assert storage.backups.get_many(scope=Scope(project_id="p2"), doc_ids=["b0"]) == {}
    # longer lists than a prepared statement takes give the same answer
    long_list = ["b1", *(f"missing-{number}" for number in range(200))]
    assert list(storage.backups.get_many(scope=Scope(user_id="u1"), doc_ids=long_list)) == ["b1"]


def test_readers_see_every_committed_write(settings, storage):
    from freezer_api.storage.base import Change, Record

    reader = open_storage(settings.database_url, {})
    writer = storage
    try:
        scope = Scope(project_id="p1")
        # NOTE: the reader keeps its connection between reads; each read must still see
        # what the other storage committed since.
        assert reader.backups.get(scope=scope, doc_id="b1") is None
        writer.backups.insert(Record(doc_id="b1", project_id="p1", user_id="u1", doc={"n": 1}))
        assert reader.backups.get(scope=scope, doc_id="b1").doc == {"n": 1}
        writer.backups.update(
            scope=scope, doc_id="b1", change=lambda record: Change(doc={"n": 2}, fields={})
        )
        assert reader.backups.get(scope=scope, doc_id="b1").doc == {"n": 2}
        writer.backups.delete(scope=scope, doc_id="b1")
        assert reader.backups.get(scope=scope, doc_id="b1") is None
    finally:
        reader.close()


@pytest.mark.parametrize("server", ["postgresql", "mariadb", "mariadb-mysqlclient"])
def test_a_reader_whose_connection_died_reads_on_a_new_one(server, request):
    from freezer_api.storage.base import Record

    with server_storage(request, server) as storage:
        scope = Scope(project_id="p1")
        storage.backups.insert(Record(doc_id="b1", project_id="p1", user_id="u1", doc={"n": 1}))
        assert storage.backups.get(scope=scope, doc_id="b1").doc == {"n": 1}
        # the server ends the reader's session, as a restart or an idle timeout would
        with storage.engine.connect() as admin:
            if server == "postgresql":
                admin.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                )
            else:
                own = admin.execute(text("SELECT CONNECTION_ID()")).scalar()
                sessions = admin.execute(
                    text("SELECT id FROM information_schema.processlist WHERE db = DATABASE()")
                ).scalars()
                for session in [session for session in sessions if session != own]:
                    admin.execute(text(f"KILL {int(session)}"))
        assert storage.backups.get(scope=scope, doc_id="b1").doc == {"n": 1}


def test_sqlite_writers_of_a_process_share_commits(sqlite_pair):
    """Group commit: concurrent writers share commits; each keeps or loses only its own changes."""
    from freezer_api.errors import Conflict
    from freezer_api.storage.base import Record

    storage, other = sqlite_pair
    commits = []
    event.listen(storage.engine, "commit", lambda connection: commits.append(1))
    scope = Scope(project_id="p1")

    def backup(doc_id: str) -> Record:
        return Record(doc_id=doc_id, project_id="p1", user_id="u1", doc={"id": doc_id})

    storage.backups.insert(backup("taken"))
    commits.clear()
    start = threading.Barrier(12)
    outcomes: dict[str, str] = {}
    acknowledged_but_unseen: list[str] = []

    def writer(number: int) -> None:
        doc_id = f"b{number}"
        start.wait()
        try:
            with storage.atomic() as transaction:
                transaction.backups.insert(backup(doc_id))
                if number % 4 == 1:
                    # a second write of a known id: this writer's own changes are undone
                    transaction.backups.insert(backup("taken"))
                if number % 4 == 2:
                    raise ValueError("the writer's own failure")
                # NOTE: holding the turn a little lets the other writers queue behind it.
                time.sleep(0.01)
        except Conflict:
            outcomes[doc_id] = "conflict"
        except ValueError:
            outcomes[doc_id] = "failed"
        else:
            outcomes[doc_id] = "written"
            # acknowledged means committed: another connection reads it at once
            if other.backups.get(scope=scope, doc_id=doc_id) is None:
                acknowledged_but_unseen.append(doc_id)

    threads = [threading.Thread(target=writer, args=(number,)) for number in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert acknowledged_but_unseen == []
    stored = {
        doc_id for doc_id in outcomes if other.backups.get(scope=scope, doc_id=doc_id) is not None
    }
    written = {doc_id for doc_id, outcome in outcomes.items() if outcome == "written"}
    assert len(written) == 6
    assert stored == written
    assert {outcome for outcome in outcomes.values()} == {"written", "conflict", "failed"}
    # twelve writers, fewer commits: the writers queued behind one another shared them
    assert 1 <= len(commits) < len(written)


def test_an_import_leaves_postgresql_with_statistics(request):
    from freezer_api.storage.sql.transfer import import_records

    with server_storage(request, "postgresql") as storage:
        records = (
            {"kind": "backups", "doc_id": f"b{n}", "project_id": "p1", "user_id": "u1", "doc": {}}
            for n in range(100)
        )
        assert import_records(storage.engine, records)["backups"] == 100
        with storage.engine.connect() as connection:
            analysed = connection.execute(
                text("SELECT count(*) FROM pg_stats WHERE tablename = 'backups'")
            ).scalar()
        assert analysed is not None and analysed > 0


def analyses(engine) -> int:
    """How many ANALYZE statements the MariaDB server has run."""
    with engine.connect() as connection:
        row = connection.execute(text("SHOW GLOBAL STATUS LIKE 'Com_analyze'")).one()
    return int(row[1])


def test_an_import_analyses_mariadb_tables_also_by_its_own_url_scheme(request):
    """SQLAlchemy names the dialect of ``mariadb://`` URLs "mariadb", of ``mysql://`` "mysql"."""
    from sqlalchemy import make_url

    from freezer_api.storage.sql.transfer import import_records

    with server_storage(request, "mariadb") as storage:
        url = make_url(storage.engine.url.render_as_string(hide_password=False))
        for backend in ("mysql", "mariadb"):
            engine = engines.create_db_engine(
                url.set(drivername=backend).render_as_string(hide_password=False), {}
            )
            try:
                assert engine.dialect.name == backend
                before = analyses(engine)
                records = (
                    {
                        "kind": "backups",
                        "doc_id": f"{backend}{number}",
                        "project_id": "p1",
                        "user_id": "u1",
                        "doc": {},
                    }
                    for number in range(10)
                )
                assert import_records(engine, records)["backups"] == 10
                assert analyses(engine) > before
            finally:
                engine.dispose()


def test_a_batch_passed_to_a_writer_that_never_comes_is_still_committed(sqlite_pair):
    from freezer_api.storage.base import Record

    storage, other = sqlite_pair
    group = storage._transactions
    group.RESCUE_AFTER = 0.05
    with storage.atomic() as transaction:
        transaction.backups.insert(Record(doc_id="b1", project_id="p1", user_id="u1", doc={}))
        # NOTE: as if a writer were waiting for the turn, and died before taking it
        with group._turns:
            group._waiting += 1
    with group._turns:
        group._waiting -= 1
    assert other.backups.get(scope=Scope(project_id="p1"), doc_id="b1") is not None
    # the turn is free again: the next writer gets it
    storage.backups.insert(Record(doc_id="b2", project_id="p1", user_id="u1", doc={}))
    assert other.backups.get(scope=Scope(project_id="p1"), doc_id="b2") is not None


def test_a_thread_s_reading_connection_is_closed_when_the_thread_ends(storage):
    import gc

    from freezer_api.storage.base import Record

    storage.backups.insert(Record(doc_id="b1", project_id="p1", user_id="u1", doc={"n": 1}))
    found = []

    def read() -> None:
        found.append(storage.backups.get(scope=Scope(project_id="p1"), doc_id="b1"))

    # NOTE: as a server that starts a thread per request would
    for _ in range(5):
        threads = [threading.Thread(target=read) for _ in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    gc.collect()
    assert len(found) == 50 and all(record.doc == {"n": 1} for record in found)
    assert storage._readers.open_count() == 0
    read()
    assert storage._readers.open_count() == 1


@pytest.fixture(params=["sqlite", "mariadb", "mariadb-mysqlclient"])
def unmigrated_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A new database without tables, on an engine that keeps JSON text as written."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    admin = server_engine(request.param)
    url = throwaway.create(admin)
    yield url
    throwaway.drop(admin, url)


def test_migration_0003_puts_backup_metadata_last_in_documents_left_otherwise(unmigrated_url):
    # an earlier version kept a seed backup's status after its metadata once v2 changed it
    url = unmigrated_url
    engine = engines.create_db_engine(url, {})
    migrate.upgrade(engine, "0002")
    old_layout = '{"user_name":"alice","backup_metadata":{"a":1},"status":"error"}'
    others = ['{"status":"available","backup_metadata":{"b":2}}', '{"user_name":"bob"}']
    with engine.begin() as connection:
        for index, doc in enumerate([old_layout, *others]):
            connection.execute(
                text(
                    "INSERT INTO backups (doc_id, project_id, user_id, version, created_at,"
                    " updated_at, doc) VALUES (:id, 'p', 'u', 1, '2026-01-01', '2026-01-01', :doc)"
                ),
                {"id": f"b{index}", "doc": doc},
            )
    migrate.upgrade(engine)
    with engine.connect() as connection:
        docs = connection.execute(text("SELECT doc FROM backups ORDER BY pk")).scalars().all()
    assert docs == [
        '{"user_name":"alice","status":"error","backup_metadata":{"a":1}}',
        *others,
    ]
    storage = open_storage(url, {})
    record = storage.backups.get(scope=Scope(project_id="p"), doc_id="b0", use=Use.ANSWER)
    assert record is not None
    assert record.doc == {"user_name": "alice", "status": "error", "backup_metadata": {"a": 1}}
    storage.close()
    engine.dispose()


def test_each_writer_of_a_failed_batch_raises_its_own_error(sqlite_pair):
    """The writers of one batch raise in their own threads: one exception object each."""
    from sqlalchemy import exc

    from freezer_api.storage.sql.commit import _Batch
    from freezer_api.storage.sql.store import translated_errors

    storage, _ = sqlite_pair
    with storage.engine.connect() as connection:
        batch = _Batch(connection, connection.begin())
        batch.error = exc.OperationalError("COMMIT", {}, OSError("disk I/O error"))
        first, second = batch.failure(), batch.failure()
        connection.rollback()
    assert first is not second and first is not batch.error
    assert type(first) is type(batch.error) and str(first) == str(batch.error)
    for copied in (first, second):
        with pytest.raises(StorageUnavailable), translated_errors("backup"):
            raise copied


def test_answers_embed_stored_backup_metadata_and_rules_get_plain_data(storage):
    """PERF: only a read for an answer, only of a table that says so, embeds stored text."""
    import orjson

    from freezer_api.storage.base import Record

    doc = {"status": "available", "backup_metadata": {"a": 1}}
    storage.backups.insert(Record(doc_id="b1", project_id="p1", user_id="u1", doc=doc))
    storage.jobs.insert(Record(doc_id="j1", project_id="p1", user_id="u1", doc=doc))
    scope = Scope(project_id="p1")
    for_rules = storage.backups.get(scope=scope, doc_id="b1")
    assert for_rules.doc == doc
    answer = storage.backups.get(scope=scope, doc_id="b1", use=Use.ANSWER)
    stored_as_text = storage.engine.dialect.name != "postgresql"  # psycopg decodes JSON itself
    assert isinstance(answer.doc["backup_metadata"], orjson.Fragment) is stored_as_text
    assert orjson.loads(orjson.dumps(answer.doc)) == doc
    job = storage.jobs.get(scope=scope, doc_id="j1", use=Use.ANSWER)
    assert job.doc == doc
