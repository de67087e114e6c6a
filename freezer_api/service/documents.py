# SPDX-License-Identifier: Apache-2.0
"""One service shape for every kind of document; the kinds differ only in their rules."""

from __future__ import annotations

from typing import Any, Protocol

from freezer_api.context import Identity
from freezer_api.errors import NotFound
from freezer_api.storage.base import Change, Query, Record, Repository, Scope


class KindRules(Protocol):
    """What makes one kind of document different from another."""

    noun: str

    def new_record(self, identity: Identity, body: Any) -> Record:
        """Validate a create body and return the record to store (with its id)."""

    def patched(self, identity: Identity, record: Record, body: Any) -> Change:
        """Validate a partial update and return the changed document."""

    def replaced(self, identity: Identity, record: Record, body: Any) -> Change:
        """Validate a full replacement and return the new document."""


class DocumentService:
    """Create, read, update and delete documents of one kind, within a caller's scope."""

    def __init__(self, rules: KindRules, repository: Repository) -> None:
        self.rules = rules
        self._repository = repository

    def create(self, identity: Identity, body: Any) -> Record:
        """Store a new document. Raises InvalidDocument or Conflict."""
        return self._repository.insert(self.rules.new_record(identity, body))

    def get(self, scope: Scope, doc_id: str) -> Record:
        """Return the document. Raises NotFound, also for another owner's id."""
        record = self._repository.get(scope=scope, doc_id=doc_id)
        if record is None:
            raise self._not_found(doc_id)
        return record

    def search(self, scope: Scope, query: Query) -> list[Record]:
        """Return one page of the scope's documents."""
        return self._repository.search(scope=scope, query=query)

    def patch(
        self, identity: Identity, scope: Scope, doc_id: str, body: Any, if_version: int | None
    ) -> Record:
        """Merge ``body`` into the stored document. Raises NotFound, InvalidDocument."""
        return self._update(
            scope, doc_id, lambda record: self.rules.patched(identity, record, body), if_version
        )

    def replace(
        self, identity: Identity, scope: Scope, doc_id: str, body: Any, if_version: int | None
    ) -> Record:
        """Replace the stored document. Raises NotFound, InvalidDocument."""
        return self._update(
            scope, doc_id, lambda record: self.rules.replaced(identity, record, body), if_version
        )

    def delete(self, scope: Scope, doc_id: str) -> None:
        """Delete the document. Raises NotFound."""
        if not self._repository.delete(scope=scope, doc_id=doc_id):
            raise self._not_found(doc_id)

    def _update(self, scope: Scope, doc_id: str, change: Any, if_version: int | None) -> Record:
        record = self._repository.update(
            scope=scope, doc_id=doc_id, change=change, if_version=if_version
        )
        if record is None:
            raise self._not_found(doc_id)
        return record

    def _not_found(self, doc_id: str) -> NotFound:
        return NotFound(f"No {self.rules.noun} found with id {doc_id}")
