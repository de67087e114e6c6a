# SPDX-License-Identifier: Apache-2.0
"""The SQL backend: one generic repository over each kind's table."""

from __future__ import annotations

import contextlib
import datetime
import logging
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Engine,
    Integer,
    Select,
    Table,
    and_,
    bindparam,
    delete,
    exc,
    insert,
    or_,
    select,
    true,
    union_all,
    update,
)

from freezer_api import jsonfast, metrics
from freezer_api.storage.base import (
    AnyOf,
    BackupSets,
    Change,
    Conflict,
    Contacts,
    Events,
    Filter,
    MarkerNotFound,
    Query,
    Record,
    Scope,
    StorageBusy,
    StorageUnavailable,
    Tallies,
    Use,
    VersionMismatch,
)
from freezer_api.storage.sql import commit, feed, filters, prepared
from freezer_api.storage.sql import engine as engines
from freezer_api.storage.sql.models import TABLES, field_names, noun_of

LOG = logging.getLogger(__name__)

#: table -> the column marking records that every project sees
SHARED_COLUMNS = {"clients": "is_central"}


#: Longest id list read with a prepared statement (one is kept per length).
MAX_PREPARED_IDS = 100

#: SQLSTATEs (PostgreSQL) and error codes (MariaDB/MySQL) of deadlocks and lock waits
TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "55P03"})
TRANSIENT_MYSQL_CODES = frozenset({1205, 1213})


def is_transient(error: exc.DBAPIError) -> bool:
    """Tell whether running the transaction again may succeed."""
    original = error.orig
    if getattr(original, "sqlstate", None) in TRANSIENT_SQLSTATES:
        return True
    arguments: tuple[Any, ...] = tuple(getattr(original, "args", ()))
    return bool(arguments) and arguments[0] in TRANSIENT_MYSQL_CODES


class translated_errors:  # noqa: N801 - used as a function: ``with translated_errors(noun):``
    """Turn driver exceptions into storage errors, once for the whole backend.

    NOTE: a class rather than a generator context manager: it wraps every read, and a
    generator's set-up and tear-down cost several times this one's.
    """

    __slots__ = ("_doc_id", "_noun")

    def __init__(self, noun: str, doc_id: str = "") -> None:
        self._noun = noun
        self._doc_id = doc_id

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, _: Any
    ) -> None:
        if isinstance(error, exc.IntegrityError):
            raise Conflict(f"{self._noun} {self._doc_id} already exists") from None
        if isinstance(error, exc.DBAPIError):
            if is_transient(error):
                raise StorageBusy("The database is busy; try again.") from None
            # NOTE: oslo.log ends a warning with the exception being handled (one line)
            if isinstance(error, (exc.OperationalError, exc.InterfaceError)):
                LOG.warning("database unavailable")
                raise StorageUnavailable("The database is unavailable; try again later.") from None
            if error.connection_invalidated:
                LOG.warning("database connection lost")
                raise StorageUnavailable("The database connection was lost; try again.") from None
        if isinstance(error, exc.TimeoutError):
            LOG.warning("no database connection free")
            raise StorageUnavailable("The database is overloaded; try again later.") from None


def galera_state(connection: Connection) -> str | None:
    """Why a Galera node should get no traffic (not ready, or not synced with its cluster,
    as a donor or a desynced node is); None for a synced node, or a server without Galera.
    """
    rows = connection.exec_driver_sql(
        "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_ready', 'wsrep_local_state_comment')"
    ).all()
    status = {str(name).lower(): str(value) for name, value in rows}
    state = status.get("wsrep_local_state_comment")
    if state is None or (state == "Synced" and status.get("wsrep_ready") == "ON"):
        return None
    return f"the Galera node is {state}, not Synced"


@contextlib.contextmanager
def reading(engine: Engine, connection: Connection | None) -> Iterator[Connection]:
    """``connection`` (an open transaction's) when there is one, else a new one of ``engine``."""
    if connection is not None:
        yield connection
        return
    with engine.connect() as opened:
        yield opened


def scope_key(scope: Scope) -> tuple[bool, bool, bool, bool]:
    """What of the scope shapes its SQL (the ids are parameters, ``scope_values``)."""
    return (
        scope.project_id is not None,
        scope.user_id is not None,
        scope.shared,
        scope.everywhere,
    )


def scope_values(scope: Scope) -> dict[str, Any]:
    """The parameters of ``scope_condition``."""
    return {"scope_project": scope.project_id, "scope_user": scope.user_id}


def scope_condition(
    table: Table, key: tuple[bool, bool, bool, bool], by_id: bool = False
) -> ColumnElement[bool]:
    """The condition of ``table``'s rows that scopes with this key see; the ids are bound
    at each run (``scope_values``). ``by_id`` when the statement also names one id."""
    has_project, has_user, shared, everywhere = key
    owner = prepared.unindexed if by_id else (lambda column: column)
    conditions: list[ColumnElement[bool]] = []
    if has_project:
        conditions.append(owner(table.c.project_id) == bindparam("scope_project"))
    if has_user:
        conditions.append(owner(table.c.user_id) == bindparam("scope_user"))
    condition: ColumnElement[bool] = true() if everywhere else and_(*conditions)
    shared_column = table.c.get(SHARED_COLUMNS.get(table.name, ""))
    if shared and shared_column is not None:
        condition = or_(condition, shared_column.is_(True))
    return condition


_T = TypeVar("_T")


def _bound(shared: _T, connection: Connection) -> _T:
    """A shallow copy of ``shared`` working in ``connection``'s transaction.

    NOTE: what ``copy.copy`` makes, at a fifth of its cost; a write transaction makes six.
    """
    bound = object.__new__(type(shared))
    bound.__dict__.update(shared.__dict__)
    bound.__dict__["_connection"] = connection
    return bound


#: The indexed fields of every record read back: reads leave them out.
_NO_FIELDS: Mapping[str, Any] = types.MappingProxyType({})


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


#: the order of a page that names none
CREATION_ORDER = (("pk", False),)


class SearchShape(NamedTuple):
    """PERF: what the SQL of a prepared search depends on; both its cache key and the only
    input of the statement's builder (``SqlRepository.shaped_statement``).

    NOTE: a named tuple: built and hashed for every list, at a third of a frozen
    dataclass's cost.
    """

    #: which of project, user, shared and everywhere the scope has
    scope: tuple[bool, bool, bool, bool]
    #: (column, negated, ``filters.column_match``) of each filter
    filters: tuple[tuple[str, bool, str], ...]
    time_after: bool
    time_before: bool
    #: (column, descending) of each key, ``pk`` last
    order: tuple[tuple[str, bool], ...]


class SqlRepository:
    """Records of one kind in one table."""

    def __init__(
        self,
        engine: Engine,
        table: Table,
        noun: str,
        transactions: commit.Transactions,
        readers: prepared.Readers,
    ) -> None:
        self._engine = engine
        self._readers = readers
        self._transactions = transactions
        #: the open transaction's connection, in a copy made by ``within``
        self._connection: Connection | None = None
        self._dialect = engine.dialect.name
        self._table = table
        self._noun = noun
        columns = table.c
        self._record_columns = (
            columns.doc_id,
            columns.project_id,
            columns.user_id,
            columns.version,
            columns.doc,
        )
        self._statements = prepared.Statements(engine)
        dialect = engine.dialect
        # NOTE: rows read through prepared statements carry the JSON column as the
        # driver gives it: text where SQLAlchemy would decode it (with the engine's
        # deserializer, jsonfast), already decoded where the driver does (psycopg).
        decodes = table.c.doc.type.dialect_impl(dialect).result_processor(dialect, None)
        self._load_doc = None if decodes is None else jsonfast.loads
        #: PERF: how rows read for an answer are decoded
        self._load_answer = (
            jsonfast.reader_keeping(engines.STORED_LAST)
            if self._load_doc is not None and table.info.get("embeds_stored")
            else self._load_doc
        )
        self._field_names = frozenset(field_names(table))

    def _reading(self) -> contextlib.AbstractContextManager[Connection]:
        return reading(self._engine, self._connection)

    @contextlib.contextmanager
    def _writing(self) -> Iterator[Connection]:
        if self._connection is not None:
            yield self._connection
            return
        with feed.feeding(self._transactions) as connection:
            yield connection

    def within(self, connection: Connection) -> SqlRepository:
        """This repository, reading and writing in ``connection``'s open transaction.

        NOTE: a copy sharing the prepared statements; a transaction per write must not
        pay for building repositories and compiling statements again.
        """
        return _bound(self, connection)

    # -- reading ---------------------------------------------------------------
    def get(self, *, scope: Scope, doc_id: str, use: Use = Use.RULES) -> Record | None:
        rows = self._fetch(
            ("get", *self._scope_key(scope)),
            lambda: self.get_statement(scope, doc_id),
            {**self._scope_values(scope), "doc_id": doc_id},
        )
        return self._raw_records(rows, use)[0] if rows else None

    def get_statement(self, scope: Scope, doc_id: str) -> Select[Any]:
        """Read one record by id; the id's index finds it, whatever the scope."""
        return (
            select(*self._record_columns)
            .where(
                self._in_scope(scope, by_id=True),
                self._table.c.doc_id == bindparam("doc_id", doc_id),
            )
            .order_by(self._table.c.pk)
            .limit(1)
        )

    def get_many(self, *, scope: Scope, doc_ids: Sequence[str]) -> dict[str, Record]:
        ids = sorted(set(doc_ids))
        if not ids:
            return {}
        names = [f"id{index}" for index in range(len(ids))]

        def build() -> Select[Any]:
            listed: list[Any] = [
                bindparam(name, doc_id) for name, doc_id in zip(names, ids, strict=True)
            ]
            return (
                select(*self._record_columns)
                .where(self._in_scope(scope, by_id=True), self._table.c.doc_id.in_(listed))
                .order_by(self._table.c.pk.desc())
            )

        # NOTE: one statement per number of ids, up to a page's worth; longer lists are rare.
        if len(ids) > MAX_PREPARED_IDS:
            with translated_errors(self._noun), self._reading() as connection:
                rows = connection.execute(build(), self._scope_values(scope)).all()
            return {row.doc_id: self._record(row) for row in rows}
        key = ("get_many", len(ids), *self._scope_key(scope))
        values = {**self._scope_values(scope), **dict(zip(names, ids, strict=True))}
        return {row[0]: self._raw_record(row) for row in self._fetch(key, build, values)}

    def exists(self, *, doc_id: str) -> bool:
        def build() -> Select[Any]:
            table = self._table
            return select(table.c.pk).where(table.c.doc_id == bindparam("doc_id")).limit(1)

        return bool(self._fetch(("exists",), build, {"doc_id": doc_id}))

    def search(self, *, scope: Scope, query: Query, use: Use = Use.RULES) -> list[Record]:
        shaped = self._search_shape(scope, query)
        if shaped is not None:
            shape, values = shaped
            found = self._fetch(shape, lambda: self.shaped_statement(shape), values)
            return self._raw_records(found, use)
        with translated_errors(self._noun), self._reading() as connection:
            statement, values = self.search_statement(scope, query, connection)
            rows = connection.execute(statement, values).all()
        return [self._record(row) for row in rows]

    def _search_shape(
        self, scope: Scope, query: Query
    ) -> tuple[SearchShape, dict[str, Any]] | None:
        """PERF: the prepared statement's shape and values, for searches on indexed columns
        without a marker; None for the others, which SQLAlchemy builds each time."""
        if query.page.marker is not None:
            return None
        values = self._page_values(scope, query)
        conditions: list[tuple[str, bool, str]] = []
        for index, condition in enumerate(query.filters):
            if isinstance(condition, AnyOf) or not isinstance(condition.field, str):
                return None
            match = filters.column_match(self._table.c[condition.field], condition.value)
            conditions.append((condition.field, condition.negate, match))
            if match == "equal":
                values[f"v{index}"] = condition.value
        shape = SearchShape(
            self._scope_key(scope),
            tuple(conditions),
            query.time_after is not None,
            query.time_before is not None,
            self._order(query),
        )
        return shape, values

    def shaped_statement(self, shape: SearchShape) -> Select[Any]:
        """The prepared search of ``shape``: built from nothing else, so that its cache key
        (the shape) cannot disagree with its SQL."""
        conditions = [self._scope_condition(shape.scope)]
        for index, (field, negate, match) in enumerate(shape.filters):
            matched = filters.column_condition(self._table.c[field], match, f"v{index}")
            conditions.append(filters.negated(matched) if negate else matched)
        conditions += self._time_conditions(shape.time_after, shape.time_before)
        return self._page(conditions, shape.order)

    def search_statement(
        self, scope: Scope, query: Query, connection: Connection
    ) -> tuple[Select[Any], dict[str, Any]]:
        """Any search, built by SQLAlchemy, and its values; ``connection`` finds the marker."""
        key = self._scope_key(scope)
        conditions = [self._scope_condition(key)]
        order = self._order(query)
        seekable = [
            condition
            for condition in query.filters
            if isinstance(condition, AnyOf) and len(order) == 1 and self._columns_only(condition)
        ][:1]
        conditions += [
            self._condition(condition) for condition in query.filters if condition not in seekable
        ]
        conditions += self._time_conditions(
            query.time_after is not None, query.time_before is not None
        )
        if query.page.marker is not None:
            conditions.append(self._after(connection, scope, query.page.marker, order))
        values = self._page_values(scope, query)
        if seekable:
            conditions.append(self._first_of_each(key, conditions, seekable[0], order[0][1]))
            values["reach"] = query.page.limit + query.page.offset
        return self._page(conditions, order), values

    def _columns_only(self, condition: AnyOf) -> bool:
        # NOTE: AnyOf(()) matches nothing (a derived filter that found nothing): no union
        return bool(condition.filters) and all(
            isinstance(part, Filter) and isinstance(part.field, str) and not part.negate
            for part in condition.filters
        )

    def _first_of_each(
        self,
        key: tuple[bool, bool, bool, bool],
        conditions: list[ColumnElement[bool]],
        alternatives: AnyOf,
        descending: bool,
    ) -> ColumnElement[bool]:
        """PERF: ``alternatives`` (a free-text search: one value in any of several indexed
        columns) as the union of each one's first rows in creation order, each found by a
        seek on its column's index under every other condition.

        NOTE: as one OR, the planners walk the scope's rows in creation order and test
        each: one backup id among a million took half a second. A page's rows are among
        the first ``limit + offset`` of some alternative, so the union of those is enough.
        ``conditions`` starts with the scope's, which an id's alternative takes as a read by
        id does (``scope_condition``), else it too walks the scope in creation order.
        """
        pk = self._table.c.pk
        branches = []
        for part in alternatives.filters:
            scoped = conditions
            if part.field == "doc_id":
                scoped = [self._scope_condition(key, by_id=True), *conditions[1:]]
            first = (
                select(pk)
                .where(*scoped, self._condition(part))
                .order_by(pk.desc() if descending else pk)
                .limit(bindparam("reach", type_=Integer()))
                .subquery()
            )
            # NOTE: through a derived table: MariaDB takes no LIMIT in an IN subquery
            branches.append(select(first.c.pk))
        return pk.in_(union_all(*branches))

    def _page_values(self, scope: Scope, query: Query) -> dict[str, Any]:
        page = query.page
        values = {**self._scope_values(scope), "limit": page.limit, "offset": page.offset}
        if query.time_after is not None:
            values["time_after"] = query.time_after
        if query.time_before is not None:
            values["time_before"] = query.time_before
        return values

    def _time_conditions(self, after: bool, before: bool) -> list[ColumnElement[bool]]:
        time_column = self._table.c.get("time_stamp")
        if time_column is None:
            return []
        conditions = []
        if after:
            conditions.append(time_column >= bindparam("time_after"))
        if before:
            conditions.append(time_column <= bindparam("time_before"))
        return conditions

    def _order(self, query: Query) -> tuple[tuple[str, bool], ...]:
        """(column, descending) of every key, creation order (``pk``) last."""
        if not query.order:
            return CREATION_ORDER
        for key in query.order:
            if key.field not in self._table.c or key.field == "doc":
                raise ValueError(f"{self._table.name} cannot be sorted by {key.field}")
        keys = tuple((key.field, key.descending) for key in query.order if key.field != "pk")
        return (*keys, ("pk", keys[-1][1] if keys else False))

    def _page(
        self, conditions: list[ColumnElement[bool]], order: tuple[tuple[str, bool], ...]
    ) -> Select[Any]:
        columns = self._table.c
        return (
            select(*self._record_columns)
            .where(and_(*conditions))
            .order_by(*(columns[name].desc() if down else columns[name] for name, down in order))
            .limit(bindparam("limit", type_=Integer()))
            .offset(bindparam("offset", type_=Integer()))
        )

    def _after(
        self,
        connection: Connection,
        scope: Scope,
        marker: str,
        order: tuple[tuple[str, bool], ...],
    ) -> ColumnElement[bool]:
        """Rows after the marker's record in ``order`` (keyset paging)."""
        table = self._table
        columns = [table.c[name] for name, _ in order]
        found = connection.execute(
            select(*columns)
            .where(self._in_scope(scope, by_id=True), table.c.doc_id == marker)
            .order_by(table.c.pk)
            .limit(1),
            self._scope_values(scope),
        ).first()
        if found is None:
            raise MarkerNotFound(f"marker {marker} is not a known {self._noun} id")
        nulls_high = self._dialect == "postgresql"
        alternatives = []
        for index, ((_, descending), column) in enumerate(zip(order, columns, strict=True)):
            ties = [filters.same(columns[before], found[before]) for before in range(index)]
            beyond = filters.beyond(column, found[index], descending, nulls_high)
            alternatives.append(and_(*ties, beyond))
        return or_(*alternatives)

    # -- writing ---------------------------------------------------------------
    def insert(self, record: Record) -> Record:
        now = _now()
        values = {
            "doc_id": record.doc_id,
            "project_id": record.project_id,
            "user_id": record.user_id,
            "version": 1,
            "created_at": now,
            "updated_at": now,
            "doc": record.doc,
            **self._fields(record.fields),
        }
        with translated_errors(self._noun, record.doc_id), self._writing() as connection:
            statement = self._statements.get(
                ("insert", *sorted(values)),
                lambda: insert(self._table).values({name: bindparam(name) for name in values}),
            )
            prepared.execute(self._engine, statement, values, connection.connection)
            feed.note(
                connection,
                feed.Note(self._table.name, record.doc_id, record.project_id, "create", 1),
            )
        return Record(
            doc_id=record.doc_id,
            project_id=record.project_id,
            user_id=record.user_id,
            doc=record.doc,
            fields=record.fields,
            version=1,
        )

    def update(
        self,
        *,
        scope: Scope,
        doc_id: str,
        change: Callable[[Record], Change | None],
        if_version: int | None = None,
    ) -> Record | None:
        table = self._table
        with translated_errors(self._noun, doc_id), self._writing() as connection:
            row = connection.execute(
                select(table.c.pk, *self._record_columns)
                .where(self._in_scope(scope, by_id=True), table.c.doc_id == doc_id)
                .order_by(table.c.pk)
                .limit(1)
                .with_for_update(),
                self._scope_values(scope),
            ).first()
            if row is None:
                return None
            current = self._record(row)
            if if_version is not None and current.version != if_version:
                raise VersionMismatch(
                    f"{self._noun} {doc_id} is at version {current.version}, not {if_version}"
                )
            changed = change(current)
            if changed is None:
                return current
            user_id = changed.user_id or current.user_id
            connection.execute(
                update(table)
                .where(table.c.pk == row.pk)
                .values(
                    doc=changed.doc,
                    version=current.version + 1,
                    updated_at=_now(),
                    user_id=user_id,
                    **self._fields(changed.fields),
                )
            )
            feed.note(
                connection,
                feed.Note(table.name, doc_id, current.project_id, "update", current.version + 1),
            )
        return Record(
            doc_id=doc_id,
            project_id=current.project_id,
            user_id=user_id,
            doc=changed.doc,
            fields=changed.fields,
            version=current.version + 1,
        )

    def delete(self, *, scope: Scope, doc_id: str) -> bool:
        table = self._table
        matched = (self._in_scope(scope, by_id=True), table.c.doc_id == doc_id)
        values = self._scope_values(scope)
        with translated_errors(self._noun, doc_id), self._writing() as connection:
            if connection.dialect.delete_returning:
                statement = delete(table).where(*matched)
                gone = connection.execute(
                    statement.returning(table.c.project_id, table.c.version), values
                ).all()
            else:
                gone = connection.execute(
                    select(table.c.project_id, table.c.version).where(*matched).with_for_update(),
                    values,
                ).all()
                connection.execute(delete(table).where(*matched), values)
            for project_id, version in gone:
                feed.note(
                    connection, feed.Note(table.name, doc_id, project_id, "delete", version + 1)
                )
        return bool(gone)

    # -- helpers ---------------------------------------------------------------
    def _fetch(
        self, key: Any, build: Callable[[], Select[Any]], values: Mapping[str, Any]
    ) -> list[Any]:
        """Rows of the read prepared under ``key``, in the open transaction if there is one."""
        with translated_errors(self._noun):
            statement = self._statements.get(key, build)
            if self._connection is not None:
                return prepared.fetch(self._engine, statement, values, self._connection.connection)
            return self._readers.fetch(statement, values)

    _scope_key = staticmethod(scope_key)
    _scope_values = staticmethod(scope_values)

    def _in_scope(self, scope: Scope, by_id: bool = False) -> ColumnElement[bool]:
        """The scope's condition; ``by_id`` when the statement also names one id."""
        return scope_condition(self._table, scope_key(scope), by_id)

    def _scope_condition(
        self, key: tuple[bool, bool, bool, bool], by_id: bool = False
    ) -> ColumnElement[bool]:
        return scope_condition(self._table, key, by_id)

    def _condition(self, condition: Filter | AnyOf) -> ColumnElement[bool]:
        if isinstance(condition, AnyOf):
            return filters.any_of([self._condition(part) for part in condition.filters])
        if isinstance(condition.field, str):
            column: Column[Any] = self._table.c[condition.field]
            matched = filters.column_equals(column, condition.value)
        else:
            matched = filters.json_equals(
                self._dialect, self._table.c.doc, condition.field, condition.value
            )
        return filters.negated(matched) if condition.negate else matched

    def _fields(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        unknown = set(fields) - self._field_names
        if unknown:
            raise ValueError(f"{self._table.name} has no indexed fields {sorted(unknown)}")
        return dict(fields)

    def _raw_record(self, row: Sequence[Any]) -> Record:
        """A record from a prepared read's row, in the order of ``_record_columns``."""
        return self._raw_records([row])[0]

    def _raw_records(self, rows: Sequence[Sequence[Any]], use: Use = Use.RULES) -> list[Record]:
        """The records of a prepared read's rows (a page: one tight loop, no call per row).

        PERF: for an answer, where the driver hands over the document's text (SQLite and
        MariaDB keep it as written; MySQL's own rendering, with spaces, never has the
        layout taken as stored), the ``STORED_LAST`` value stays that text.
        """
        # NOTE: positional arguments, and one shared empty ``fields``: a third less time
        # per record than keywords and the default's fresh dict.
        load = self._load_answer if use is Use.ANSWER else self._load_doc
        if load is None:
            return [Record(a, b, c, doc, _NO_FIELDS, version) for a, b, c, version, doc in rows]
        return [Record(a, b, c, load(doc), _NO_FIELDS, version) for a, b, c, version, doc in rows]

    @staticmethod
    def _record(row: Any) -> Record:
        return Record(
            doc_id=row.doc_id,
            project_id=row.project_id,
            user_id=row.user_id,
            doc=row.doc,
            version=row.version,
        )


class SqlStorage:
    """The SQL backend: SQLite, PostgreSQL or MariaDB/MySQL.

    One repository per table of ``tables`` (the models' by default), an attribute named
    for the table (``storage.backups``).
    """

    def __init__(self, engine: Engine, tables: Mapping[str, Table] = TABLES) -> None:
        self.engine = engine
        #: the open transaction's connection, in a copy made by ``_within``
        self._connection: Connection | None = None
        self._transactions = commit.for_engine(engine)
        metrics.watch_pool(engine)
        self._readers = prepared.Readers(engine)
        self._repositories = {
            plural: SqlRepository(engine, table, noun_of(table), self._transactions, self._readers)
            for plural, table in tables.items()
        }
        if "backups" in tables:
            from freezer_api.storage.sql.sets import SqlBackupSets  # NOTE: it imports this

            self.backup_sets: BackupSets = SqlBackupSets(engine)
        from freezer_api.storage.sql.events import SqlEvents  # NOTE: it imports this

        self.events: Events = SqlEvents(engine, self._transactions)
        if "clients" in tables:
            from freezer_api.storage.sql.contacts import SqlContacts, SqlTallies  # NOTE: idem

            self.contacts: Contacts = SqlContacts(engine, self._transactions)
            self.tallies: Tallies = SqlTallies(engine)
        self._bind()

    def _bind(self) -> None:
        # NOTE: plain attributes, found without a call: ``__getattr__`` only refuses.
        self.__dict__.update(self._repositories)

    def __getattr__(self, plural: str) -> SqlRepository:
        raise AttributeError(f"this storage keeps no {plural}")

    def _within(self, connection: Connection) -> SqlStorage:
        """This storage in ``connection``'s transaction, sharing what was built."""
        bound = _bound(self, connection)
        bound._repositories = {
            kind: repository.within(connection) for kind, repository in self._repositories.items()
        }
        if "backup_sets" in self.__dict__:
            bound.backup_sets = self.backup_sets.within(connection)  # type: ignore[attr-defined]
        bound._bind()
        return bound

    @contextlib.contextmanager
    def atomic(self) -> Iterator[SqlStorage]:
        if self._connection is not None:
            yield self
            return
        with translated_errors("document"), feed.feeding(self._transactions) as connection:
            yield self._within(connection)

    def ping(self) -> None:
        with translated_errors("database"), self.engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
            if self.engine.dialect.name == "mysql":
                state = galera_state(connection)
                if state is not None:
                    raise StorageUnavailable(state)

    def close(self) -> None:
        self._transactions.close()
        self._readers.close()
        self.engine.dispose()
