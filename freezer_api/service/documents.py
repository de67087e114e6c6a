# SPDX-License-Identifier: Apache-2.0
"""One service shape for every kind of document; the kinds differ only in their rules."""

from __future__ import annotations

import dataclasses
import itertools
import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar, Protocol, TypeVar

from freezer_api import metrics
from freezer_api.context import Identity
from freezer_api.errors import InvalidDocument, NotFound
from freezer_api.service.liveness import Liveness
from freezer_api.service.schemas import DOC_ID, Schema, Validator
from freezer_api.service.search import Search, SearchFields
from freezer_api.storage.base import (
    AnyOf,
    Change,
    Document,
    Filter,
    Page,
    Query,
    Record,
    Repository,
    Scope,
    Storage,
    StorageBusy,
    Use,
)

LOG = logging.getLogger(__name__)
T = TypeVar("T")

#: What an id chosen in a URL must look like to create a document.
NEW_ID = Validator(DOC_ID, "id")

#: Fields only the server sets; a body that carries them has them ignored.
SERVER_FIELDS = frozenset({"user_id", "project_id", "user_name", "user_credentials", "_version"})


@dataclasses.dataclass(frozen=True)
class Call:
    """Who asks, which records they may see, and which project new records join."""

    identity: Identity
    scope: Scope
    project_id: str
    #: the caller may see every project's documents (admin or service)
    privileged: bool = False

    def new_record(self, doc_id: str, doc: dict[str, Any], fields: dict[str, Any]) -> Record:
        return Record(
            doc_id=doc_id,
            project_id=self.project_id,
            user_id=self.identity.user_id,
            doc=doc,
            fields=fields,
        )


def without_server_fields(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key not in SERVER_FIELDS}


def require_object(body: Any, what: str) -> dict[str, Any]:
    if not isinstance(body, dict) or not body:
        raise InvalidDocument(f"{what} must be a non-empty JSON object.")
    return body


Clock = Callable[[], float]


class TrustProvider(Protocol):
    """Keystone trusts, for jobs of central schedulers (``freezer_api.keystone.Trusts``)."""

    def create(self, identity: Identity) -> dict[str, str]: ...

    def delete(self, identity: Identity, trust_id: str) -> None: ...


@dataclasses.dataclass(frozen=True)
class Wiring:
    """What the rules of a kind may be built with, besides the storage they are given."""

    trusts: TrustProvider | None = None
    #: seconds since the epoch, as ``time.time`` (tests move it on instead of sleeping)
    clock: Clock = time.time
    #: ``[api] protect_chains``: deleting a backup that others depend on is refused
    protect_chains: bool = False
    liveness: Liveness = dataclasses.field(default_factory=Liveness)
    #: ``[search] backend = opensearch``: what answers free-text searches
    text_search: TextSearch | None = None


class TextSearch(Protocol):
    """An index that finds records by free text (``freezer_api.search.SearchIndex``)."""

    def ids(self, kind: str, scope: Scope, text: str, offset: int, limit: int) -> list[str]:
        """The ids of one page of the scope's records of ``kind`` that match ``text``, best
        first. Raises on any failure of the index."""


class Rules:
    """What makes one kind of document different from another; defaults for the rest."""

    #: storage attribute holding this kind ("backups")
    plural: str = ""
    #: singular word used in messages ("backup")
    noun: str = ""
    search_fields: SearchFields
    #: POST to a missing item creates it (Freezer's create-or-replace)
    replace_creates: bool = False
    #: the JSON schema the rules check a create (and replace) body with; also what the
    #: OpenAPI document says of that body
    schema: ClassVar[Schema] = {"type": "object"}
    #: the schema of a PATCH body; None: any part of ``schema`` (the merged document is
    #: checked against ``schema``)
    patch_schema: ClassVar[Schema | None] = None
    #: a create is one insert of a record built from the body alone (``new_record``
    #: reads nothing, ``create`` and ``expand`` add nothing): it is built and validated
    #: before the write transaction, which then holds the database only for the insert
    creates_alone: bool = False

    @classmethod
    def build(cls, wiring: Wiring) -> Rules:
        """The rules of this kind, with what they need of ``wiring``."""
        return cls()

    def repository(self, storage: Storage) -> Repository:
        repository: Repository = getattr(storage, self.plural)
        return repository

    def create(self, call: Call, storage: Storage, body: Any) -> Record:
        """Validate a create body and store the new record."""
        return self.repository(storage).insert(self.new_record(call, storage, body, None))

    def new_record(self, call: Call, storage: Storage, body: Any, doc_id: str | None) -> Record:
        """Return the record a create (or a replace of a missing id) stores."""
        raise NotImplementedError

    def patched(self, call: Call, storage: Storage, record: Record, body: Any) -> Change:
        """Validate a partial update and return the changed document."""
        raise NotImplementedError

    def replaced(self, call: Call, storage: Storage, record: Record, body: Any) -> Change:
        """Validate a full replacement and return the new document."""
        raise NotImplementedError

    def expand(self, call: Call, storage: Storage, records: list[Record]) -> list[Record]:
        """Add what a response shows beyond the stored document (linked records)."""
        return records

    def deleting(self, call: Call, storage: Storage, record: Record, *, cascade: bool) -> None:
        """Check (and do) what goes before the record is deleted, in its transaction;
        ``cascade`` asks to delete what depends on it too."""
        if cascade:
            raise InvalidDocument(f"cascade is for backups, not {self.plural}.")

    def deleted(self, call: Call, storage: Storage, record: Record) -> None:
        """Clean up after a record was deleted."""

    def derived_filters(
        self, call: Call, storage: Storage, search: Search
    ) -> tuple[Filter | AnyOf, ...]:
        """Filters of a search that the kind works out from other records (``?stale=true``)."""
        if search.stale:
            raise InvalidDocument(f"stale is a filter of jobs, not {self.plural}.")
        return ()

    def seen(
        self, call: Call, storage: Storage, *, search: Search | None = None, body: Any = None
    ) -> None:
        """Note what a served request tells of its caller (a scheduler's contact)."""

    def liveness(self, call: Call, storage: Storage, records: list[Record]) -> list[Document]:
        """What ``?liveness=true`` adds to each record's answer."""
        raise InvalidDocument(f"liveness is shown on clients and jobs, not {self.plural}.")


#: How often a transaction that lost a deadlock (or, on Galera, certification) is run.
ATTEMPTS = 8
#: Seconds of the first wait before running it again; each wait doubles, up to the most.
FIRST_WAIT, MOST_WAIT = 0.02, 0.5


class Conflicts:
    """How many transactions of this process were run again, and how many gave up (each
    is logged)."""

    retried = itertools.count(1)
    surfaced = itertools.count(1)


def retrying(operation: Callable[[], T]) -> T:
    """Run ``operation``, again when the database reports a deadlock or lock timeout.

    NOTE: a Galera node refuses a commit whose rows another node changed first
    (certification), as a deadlock; running it again succeeds once the node has applied
    that change. The waits (about 1.8 s in all, jittered) outlast Galera's apply on a hot
    row, which four attempts in 0.3 s did not.
    """
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return operation()
        except StorageBusy:
            if attempt == ATTEMPTS:
                LOG.warning(
                    "deadlock or certification conflict: gave up after %d attempts; "
                    "given up in this process: %d",
                    ATTEMPTS,
                    next(Conflicts.surfaced),
                )
                metrics.server_metrics().gave_up.inc()
                raise
            wait = min(MOST_WAIT, FIRST_WAIT * 2 ** (attempt - 1)) * random.uniform(0.5, 1.5)
            LOG.info(
                "deadlock or certification conflict: running the transaction again in "
                "%.0f ms (attempt %d of %d); retried in this process: %d",
                wait * 1000,
                attempt + 1,
                ATTEMPTS,
                next(Conflicts.retried),
            )
            metrics.server_metrics().retries.inc()
            time.sleep(wait)
    raise AssertionError("unreachable")


def in_transaction(storage: Storage, work: Callable[[Storage], T]) -> T:
    """Run ``work`` in one transaction; again, from the start, if it lost a deadlock."""

    def attempt() -> T:
        with storage.atomic() as transaction:
            return work(transaction)

    return retrying(attempt)


class Fallbacks:
    """Say that searches fall back to SQL: once, then at most once a minute with how many
    did in between (an outage of OpenSearch would otherwise log a line per search)."""

    EVERY = 60.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = float("-inf")
        self._since = 0

    def said(self, error: Exception) -> None:
        with self._lock:
            self._since += 1
            now = time.monotonic()
            if now - self._last < self.EVERY:
                return
            count, self._since, self._last = self._since, 0, now
        LOG.warning(
            "free-text search answered from SQL (%d since the last such line): "
            "OpenSearch failed: %s",
            count,
            error,
        )


FALLBACKS = Fallbacks()


def _only_text(search: Search, page: Page, scope: Scope) -> bool:
    """A search the index answers: free text alone, paged by offset, in one project's or
    one user's records (not the shared ones: central clients are not indexed as such)."""
    return bool(search.text) and not (
        search.match
        or search.match_not
        or search.sort
        or search.stale
        or search.time_after is not None
        or search.time_before is not None
        or page.marker
        or scope.shared
    )


class DocumentService:
    """Create, read, update and delete documents of one kind, within a caller's scope."""

    def __init__(
        self, rules: Rules, storage: Storage, text_search: TextSearch | None = None
    ) -> None:
        kind = type(rules)
        if rules.creates_alone and (
            kind.create is not Rules.create or kind.expand is not Rules.expand
        ):
            raise ValueError(f"{rules.plural}: a create that adds to the insert is not alone")
        self.rules = rules
        self._storage = storage
        self._text_search = text_search

    def create(self, call: Call, body: Any) -> Record:
        """Store a new document. Raises InvalidDocument, Conflict, Unprocessable."""
        rules = self.rules
        if rules.creates_alone:
            record = rules.new_record(call, self._storage, body, None)
            return retrying(lambda: rules.repository(self._storage).insert(record))

        def work(storage: Storage) -> Record:
            record = self.rules.create(call, storage, body)
            return self.rules.expand(call, storage, [record])[0]

        return in_transaction(self._storage, work)

    def get(self, call: Call, doc_id: str) -> Record:
        """Return the document, to be rendered. Raises NotFound, also for another owner's id."""
        rules = self.rules
        record = rules.repository(self._storage).get(
            scope=call.scope, doc_id=doc_id, use=Use.ANSWER
        )
        if record is None:
            raise self.not_found(doc_id)
        return rules.expand(call, self._storage, [record])[0]

    def search(self, call: Call, search: Search, page: Page) -> list[Record]:
        """Return one page of the scope's documents that match ``search``, to be rendered."""
        rules = self.rules
        if self._text_search is not None and _only_text(search, page, call.scope):
            found = self._text_searched(call, search, page)
            if found is not None:
                rules.seen(call, self._storage, search=search)
                return rules.expand(call, self._storage, found)
        query = Query(
            page=page,
            filters=(
                *rules.search_fields.filters(search),
                *rules.derived_filters(call, self._storage, search),
            ),
            order=rules.search_fields.order(search),
            time_after=search.time_after,
            time_before=search.time_before,
        )
        records = rules.repository(self._storage).search(
            scope=call.scope, query=query, use=Use.ANSWER
        )
        rules.seen(call, self._storage, search=search)
        return rules.expand(call, self._storage, records)

    def _text_searched(self, call: Call, search: Search, page: Page) -> list[Record] | None:
        """The page the index finds, read from the catalogue in the index's order; None
        when the index failed (logged and counted: the search is answered from SQL)."""
        assert self._text_search is not None
        try:
            ids = self._text_search.ids(
                self.rules.plural, call.scope, " ".join(search.text), page.offset, page.limit
            )
        except Exception as error:  # noqa: BLE001 - any failure of the index falls back
            metrics.server_metrics().search_fallbacks.inc()
            FALLBACKS.said(error)
            return None
        records = self.rules.repository(self._storage).get_many(scope=call.scope, doc_ids=ids)
        return [records[doc_id] for doc_id in ids if doc_id in records]

    def liveness(self, call: Call, records: list[Record]) -> list[Document]:
        """What ``?liveness=true`` adds to each of these records' answers."""
        return self.rules.liveness(call, self._storage, records)

    def patch(self, call: Call, doc_id: str, body: Any, if_version: int | None) -> Record:
        """Change the given fields of the stored document. Raises NotFound, InvalidDocument."""
        rules = self.rules

        def work(storage: Storage) -> Record:
            record = self.update(
                storage,
                call,
                doc_id,
                lambda current: rules.patched(call, storage, current, body),
                if_version,
            )
            return rules.expand(call, storage, [record])[0]

        patched = in_transaction(self._storage, work)
        rules.seen(call, self._storage, body=body)
        return patched

    def replace(
        self, call: Call, doc_id: str, body: Any, if_version: int | None
    ) -> tuple[Record, bool]:
        """Replace the stored document, or create it where the kind allows.

        Returns the record and whether it was created.
        """
        rules = self.rules

        def work(storage: Storage) -> tuple[Record, bool]:
            record = rules.repository(storage).update(
                scope=call.scope,
                doc_id=doc_id,
                change=lambda current: rules.replaced(call, storage, current, body),
                if_version=if_version,
            )
            created = record is None
            if record is None:
                taken = rules.repository(storage).exists(doc_id=doc_id)
                if not rules.replace_creates or if_version is not None or taken:
                    # NOTE: an id of another owner's is "not found" here, as everywhere.
                    raise self.not_found(doc_id)
                NEW_ID.check(doc_id)
                record = rules.repository(storage).insert(
                    rules.new_record(call, storage, body, doc_id)
                )
            return rules.expand(call, storage, [record])[0], created

        return in_transaction(self._storage, work)

    def delete(self, call: Call, doc_id: str, *, cascade: bool = False) -> None:
        """Delete the document. Raises NotFound."""

        def work(storage: Storage) -> None:
            repository = self.rules.repository(storage)
            record = repository.get(scope=call.scope, doc_id=doc_id)
            if record is None:
                raise self.not_found(doc_id)
            self.rules.deleting(call, storage, record, cascade=cascade)
            if not repository.delete(scope=call.scope, doc_id=doc_id):
                raise self.not_found(doc_id)
            self.rules.deleted(call, storage, record)

        in_transaction(self._storage, work)

    def update(
        self,
        storage: Storage,
        call: Call,
        doc_id: str,
        change: Callable[[Record], Change | None],
        if_version: int | None = None,
    ) -> Record:
        """Apply ``change`` to a stored record of the caller's scope. Raises NotFound."""
        record = self.rules.repository(storage).update(
            scope=call.scope, doc_id=doc_id, change=change, if_version=if_version
        )
        if record is None:
            raise self.not_found(doc_id)
        return record

    def not_found(self, doc_id: str) -> NotFound:
        return NotFound(f"No {self.rules.noun} found with id {doc_id}")
