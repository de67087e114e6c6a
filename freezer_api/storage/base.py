# SPDX-License-Identifier: Apache-2.0
"""The storage contract every backend implements.

A backend keeps *records*: one JSON document per record plus a few indexed fields
that the service layer derives from the document, so that filtering and paging can
run inside the database.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol

from freezer_api.errors import (
    Conflict,
    FreezerError,
    Gone,
    InvalidDocument,
    PreconditionFailed,
    StorageUnavailable,
)

__all__ = ["Conflict", "StorageUnavailable"]

Document = dict[str, Any]


class Use(enum.Enum):
    """What a read record is for; a backend may take a shortcut for records only rendered."""

    #: read, compared and changed by rules: every value of the document is plain JSON data
    RULES = "rules"
    #: only rendered into an answer by the JSON writer (``jsonfast.dumps``): a value may come
    #: as stored JSON text (an ``orjson.Fragment``), which the writer embeds as it is
    ANSWER = "answer"


class StorageError(FreezerError):
    """Base of the errors a backend raises."""


@dataclasses.dataclass(frozen=True)
class Scope:
    """Whose records a call may see: those of a project (v2), of a user (v1), or both.

    ``shared`` also shows the records every project sees (central clients);
    ``everywhere`` shows all projects' records (an administrator's all_projects list).
    """

    project_id: str | None = None
    user_id: str | None = None
    shared: bool = False
    everywhere: bool = False

    def __post_init__(self) -> None:
        if self.project_id is None and self.user_id is None and not self.everywhere:
            raise ValueError("a scope names a project, a user or both, or everywhere")


@dataclasses.dataclass(frozen=True)
class Filter:
    """One condition of a search.

    ``field`` is an indexed field of the kind (``"backup_name"``) or a path into the
    document (``("backup_metadata", "mode")``). ``negate`` turns "equals" into
    "differs or is absent".
    """

    field: str | tuple[str, ...]
    value: Any
    negate: bool = False


@dataclasses.dataclass(frozen=True)
class AnyOf:
    """Passes when any of its filters passes (free-text search over several fields)."""

    filters: tuple[Filter, ...]


@dataclasses.dataclass(frozen=True)
class Page:
    limit: int
    offset: int = 0
    #: continue after the record with this id (in the same scope)
    marker: str | None = None


@dataclasses.dataclass(frozen=True)
class SortKey:
    """One key of a list's order: an indexed field of the kind, ascending or descending."""

    field: str
    descending: bool = False


@dataclasses.dataclass(frozen=True)
class Query:
    page: Page
    filters: tuple[Filter | AnyOf, ...] = ()
    #: the order of the page; creation order breaks ties (in the last key's direction), and
    #: is the whole order when empty. A missing value (NULL) sorts as one value, below or
    #: above every other as the engine sorts it, the same way on every page.
    order: tuple[SortKey, ...] = ()
    #: inclusive bounds on the indexed ``time_stamp`` (backups); other kinds have none
    time_after: int | None = None
    time_before: int | None = None


@dataclasses.dataclass(slots=True)
class Record:
    """A stored document and the metadata the store keeps beside it.

    Treated as a value: nothing changes a record once built (``dataclasses.replace`` makes
    a changed copy). NOTE: not ``frozen``: a list page builds one per row, and a frozen
    dataclass costs 2.5 times as much to build (its ``__init__`` goes through
    ``object.__setattr__`` for each field).
    """

    doc_id: str
    project_id: str
    user_id: str
    doc: Document
    fields: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    version: int = 1


@dataclasses.dataclass(frozen=True)
class Change:
    """What an update writes: the new document and its indexed fields."""

    doc: Document
    fields: Mapping[str, Any]
    user_id: str | None = None


class Repository(Protocol):
    """The records of one kind."""

    def get(self, *, scope: Scope, doc_id: str, use: Use = Use.RULES) -> Record | None:
        """Return the record with this id in this scope, or None."""

    def get_many(self, *, scope: Scope, doc_ids: Sequence[str]) -> dict[str, Record]:
        """Return the records with these ids in this scope, by id (absent ids are left out)."""

    def exists(self, *, doc_id: str) -> bool:
        """Tell whether any scope holds a record with this id."""

    def search(self, *, scope: Scope, query: Query, use: Use = Use.RULES) -> list[Record]:
        """Return one page of the scope's records that pass every filter, in ``query.order``
        (oldest first by default). A ``marker`` continues after that record in that order,
        under the same filters.

        Raises ``MarkerNotFound`` when the page's marker is not a record of the scope.
        """

    def insert(self, record: Record) -> Record:
        """Store a new record with version 1. Raises ``Conflict`` on a duplicate id."""

    def update(
        self,
        *,
        scope: Scope,
        doc_id: str,
        change: Callable[[Record], Change | None],
        if_version: int | None = None,
    ) -> Record | None:
        """Apply ``change`` to the stored record atomically and bump its version.

        ``change`` sees the current record under a write lock, so concurrent updates
        never lose each other's work; when it returns None nothing is written. Returns
        None when there is no such record; raises
        ``VersionMismatch`` when ``if_version`` is given and differs.
        """

    def delete(self, *, scope: Scope, doc_id: str) -> bool:
        """Delete the record; return False when there was none."""


@dataclasses.dataclass(frozen=True)
class SetBackup:
    """A backup as its set's chains see it: ordered by (``time_stamp``, ``order``)."""

    backup_id: str
    time_stamp: int
    level: int | None
    status: str | None
    #: the store's insertion order: breaks ties of time stamps
    order: int
    doc: Document
    version: int = 1


@dataclasses.dataclass(frozen=True)
class SetNames:
    """A backup set's key and names: a project's backups of one host, name and container."""

    key: str
    hostname: str | None
    backup_name: str | None
    container: str | None


@dataclasses.dataclass(frozen=True)
class BackupSet(SetNames):
    """The overview of one backup set."""

    count: int
    first_time_stamp: int | None
    last_time_stamp: int | None
    max_level: int | None


class BackupSets(Protocol):
    """Backup sets, read by index seeks on their key (``set_key``) with time and level."""

    def pinned(self) -> contextlib.AbstractContextManager[BackupSets]:
        """These sets, every read on one connection (for many reads in a row)."""

    def sets(
        self,
        *,
        project_id: str,
        names: Mapping[str, str],
        after: str | None,
        limit: int,
    ) -> list[BackupSet]:
        """One page of the project's sets, by key, after the key ``after``; ``names`` filters
        on ``hostname``, ``backup_name`` and ``container``."""

    def names(self, *, project_id: str, after: str | None, limit: int) -> list[SetNames]:
        """One page of the project's sets, by key, after the key ``after``: their names only,
        one index seek each, however many backups they hold."""

    def selects_any(self, *, project_id: str, names: Mapping[str, str]) -> bool:
        """Whether any of the project's backups has these ``hostname``, ``backup_name`` and
        ``container``."""

    def projects(self) -> list[str]:
        """Every project that has backups."""

    def containers(self, *, project_id: str, hostname: str, backup_name: str) -> list[str | None]:
        """The containers of the project's sets of this host and name."""

    def backups(
        self,
        *,
        project_id: str,
        key: str,
        level: int | None = None,
        before: tuple[int, int] | None = None,
        at_most: int | None = None,
        limit: int = 1,
        after: tuple[int, int] | None = None,
        oldest_first: bool = False,
    ) -> list[SetBackup]:
        """The set's backups with a time stamp, newest first (or ``oldest_first``): of
        ``level`` only when given, ordered before ``before`` and after ``after`` (each a
        time stamp and an order), at or before the time stamp ``at_most``."""

    def backup(self, *, project_id: str, backup_id: str) -> tuple[str, SetBackup] | None:
        """The key of a backup's set, and the backup as its chains see it; None when the
        project has no such backup with a time stamp."""


@dataclasses.dataclass(frozen=True, slots=True)
class Event:
    """One create, update or delete of a record, as the change feed lists it."""

    #: the change's place in the order changes became visible: the feed's cursor
    seq: int
    #: the kind's plural ("backups")
    kind: str
    doc_id: str
    #: "create", "update" or "delete"
    operation: str
    #: the record's version after the change (a delete's is one past the last one kept)
    version: int
    #: seconds since the epoch
    time: int
    #: who made the change; None for the server's own (``freezer-manage``)
    user_id: str | None
    project_id: str


class Events(Protocol):
    """The change feed: every write of every kind's records, oldest first."""

    def page(self, *, project_id: str | None, since: int | None, limit: int) -> list[Event]:
        """The project's events (every project's with None) after the cursor ``since``
        (from the oldest kept without); ``CursorPurged`` when events after ``since`` were
        purged."""

    def latest(self, *, project_id: str | None, before: int | None, limit: int) -> list[Event]:
        """The project's newest events (every project's with None), newest first, before
        the cursor ``before``."""

    def purged(self) -> int:
        """The cursor of the last event purged (0 when none was): the oldest one usable."""

    def purge(self, *, before: int) -> int:
        """Delete the events older than ``before`` (seconds since the epoch); how many."""


class Contacts(Protocol):
    """When each client (a scheduler) was last in contact; not part of its document."""

    def touch(self, *, scope: Scope, client_id: str, at: int, unless_after: int) -> None:
        """Record a contact of the scope's client at ``at``, unless the one recorded is
        later than ``unless_after`` (no write then)."""

    def seen(self, *, scope: Scope, client_ids: Sequence[str]) -> dict[str, int | None]:
        """The last contact of each of these clients the scope sees (None: never seen);
        unknown ids are left out."""

    def quiet(self, *, scope: Scope, before: int) -> list[str]:
        """The ids of the scope's clients last seen before ``before`` (at most 1,000);
        clients never seen are not among them."""


class Tallies(Protocol):
    """Counts over the whole catalogue, for metrics."""

    def jobs_by_status(self) -> list[tuple[str, str | None, int]]:
        """(project, job status, how many jobs), every project."""

    def clients_seen(self, limit: int) -> list[tuple[str, str, int | None]]:
        """(project, client id, last contact) of up to ``limit`` clients, every project."""


class Storage(Protocol):
    """One repository per kind, an attribute named for the kind's plural (``storage.jobs``)."""

    #: the backup sets of the backups
    backup_sets: BackupSets
    #: the change feed of every kind
    events: Events
    #: the clients' last contact
    contacts: Contacts
    #: counts for metrics
    tallies: Tallies

    def __getattr__(self, plural: str) -> Repository:
        """The repository of the kind ``plural``; AttributeError when the storage keeps none."""

    def atomic(self) -> contextlib.AbstractContextManager[Storage]:
        """Return a context whose storage does all its reads and writes in one transaction.

        Updates inside it lock what they change, so a multi-record change (a session and
        its jobs, a job and its new actions) is all or nothing, and concurrent callers
        take turns.
        """

    def ping(self) -> None:
        """Ask the database a trivial question; StorageUnavailable when it cannot answer."""

    def close(self) -> None:
        """Release connections."""


def set_key(hostname: str | None, backup_name: str | None, container: str | None) -> str:
    """The key of a backup set: a digest of its three names (indexed with time and level)."""
    return _digest([hostname, backup_name, container])


def name_key(hostname: str | None, backup_name: str | None) -> str:
    """The key of a host's backups of one name, in any container (indexed with container)."""
    return _digest([hostname, backup_name])


def _digest(names: list[str | None]) -> str:
    text = json.dumps(names, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:40]


class SchemaNotReady(StorageError):
    """The database schema is not at the revision this code needs."""


class Backend(Protocol):
    """A storage backend's lifecycle: all that the app, ``freezer-manage`` and
    ``freezer-status`` know of a backend. ``freezer_api.storage.open_backend`` finds one by
    the scheme of its URL.

    What every backend guarantees, which the contract suite (``tests/storage``) checks:

    - an acknowledged write is durable: ``insert``, ``update`` and ``delete`` return only
      once what they wrote is committed (inside ``atomic()``, once the block is);
    - ``Storage.atomic()`` is all or nothing: every write of the block or none of them,
      whatever raises inside it, and records it updates are locked until it ends;
    - ids are compared exactly (case, trailing spaces); a scope never shows another
      project's or user's records, except shared ones to a ``shared`` scope;
    - searches filter and page inside the database, oldest first, ``marker`` continuing
      after a record of the same scope under the same filters;
    - driver errors come out as ``Conflict``, ``StorageBusy`` (run it again),
      ``StorageUnavailable`` or ``VersionMismatch``, never as the driver's own.
    """

    def open(self) -> Storage:
        """Connect, for serving; the schema must be current."""

    def prepare(self, *, create: bool) -> None:
        """Make ready to serve: with ``create``, an embedded database (SQLite) is created or
        upgraded here; otherwise raise ``SchemaNotReady`` unless the schema is current."""

    def upgrade(self) -> str:
        """Create or upgrade the schema to this code's revision, and return it."""

    def head(self) -> str:
        """The schema revision this code needs."""

    def version(self) -> str | None:
        """The database's schema revision, or None when it has no schema."""

    def check(self) -> list[str]:
        """What keeps this database from serving this code (empty when nothing does)."""

    def export(self) -> Iterator[Document]:
        """Yield every record of every kind, oldest first, in the engine-free line format,
        from one consistent snapshot of the database."""

    def import_records(
        self,
        records: Iterable[Document],
        *,
        dry_run: bool = False,
        batch_size: int | None = None,
        skip_existing: bool = False,
    ) -> Counter[str]:
        """Insert exported records in one transaction (all or none); return counts by kind.

        ``dry_run`` checks and inserts everything, then rolls it back; ``batch_size``
        commits every that many records on their own; ``skip_existing`` leaves out
        records already stored (counted as ``skipped``)."""

    def read_freezer_api_19(self, table: str) -> Iterator[Document]:
        """Stream the live rows of one table of a freezer-api 19.0.0 catalogue here."""


class StorageBusy(StorageError, StorageUnavailable):
    """A transaction lost a deadlock or a lock wait; running it again may succeed."""


class MarkerNotFound(StorageError, InvalidDocument):
    """The ``marker`` of a page is not a record of this scope."""


class CursorPurged(StorageError, Gone):
    """The change feed no longer holds the events after this cursor."""


class VersionMismatch(StorageError, PreconditionFailed):
    """The record changed since the version the caller named."""


OpenBackend = Callable[[str, Mapping[str, Any]], Backend]
