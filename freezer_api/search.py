# SPDX-License-Identifier: Apache-2.0
"""The OpenSearch index of the catalogue (``[search]``): fed from the change feed, rebuilt
from the catalogue, never the only copy.

Every record is one document of the index ``[search] index``, its id ``kind/doc_id``, at
the record's version (external versioning: a replayed or late change of an older version is
refused by OpenSearch and ignored here, so that deliveries may repeat and come out of
order). ``sync`` applies the feed's events after the cursor the index keeps (the document
``_cursor`` of ``{index}-meta``) and moves the cursor only past what it applied: an outage of
OpenSearch loses nothing, the next ``sync`` goes on from there. ``reindex`` builds a new index
from a snapshot of the catalogue, then replays what the feed recorded since.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Iterator
from typing import Any

from oslo_config import cfg

from freezer_api.service.backups import index_fields
from freezer_api.storage.base import Backend, Document, Event, Scope, Storage

LOG = logging.getLogger(__name__)
#: events read from the feed at a time, and documents sent in one bulk request
BATCH = 500
#: strings kept in a document's free-text field, and their total length
MAX_TEXTS, MAX_TEXT = 200, 20_000

MAPPINGS: Document = {
    "dynamic": False,
    "properties": {
        "kind": {"type": "keyword"},
        "doc_id": {"type": "keyword"},
        "project_id": {"type": "keyword"},
        "user_id": {"type": "keyword"},
        "hostname": {"type": "keyword"},
        "backup_name": {"type": "keyword"},
        "container": {"type": "keyword"},
        "status": {"type": "keyword"},
        "time_stamp": {"type": "long"},
        "level": {"type": "integer"},
        "text": {"type": "text"},
    },
}


def client(conf: cfg.ConfigOpts) -> Any:
    """An opensearch-py client of ``[search]``."""
    from opensearchpy import OpenSearch

    section = conf.search
    auth = (section.username, section.password) if section.username else None
    return OpenSearch(
        hosts=list(section.hosts),
        http_auth=auth,
        verify_certs=section.verify_certs,
        ca_certs=section.ca_certs,
        timeout=section.timeout,
        # NOTE: a search falls back to SQL at once rather than trying every host again
        max_retries=0,
    )


def text_search(conf: cfg.ConfigOpts) -> SearchIndex | None:
    """The index that answers free-text searches: with ``[search] backend = opensearch``."""
    if conf.search.backend != "opensearch":
        return None
    return SearchIndex(client(conf), conf.search.index)


def texts(value: Any, found: list[str]) -> None:
    """The strings of a document, depth first, bounded."""
    if len(found) >= MAX_TEXTS:
        return
    if isinstance(value, str):
        found.append(value)
    elif isinstance(value, dict):
        for item in value.values():
            texts(item, found)
    elif isinstance(value, list):
        for item in value:
            texts(item, found)


def indexed(
    kind: str, doc_id: str, project_id: str | None, user_id: str | None, doc: Any, fields: Document
) -> Document:
    """The index's document of a record."""
    found: list[str] = [doc_id]
    texts(doc, found)
    body: Document = {
        "kind": kind,
        "doc_id": doc_id,
        "project_id": project_id,
        "user_id": user_id,
        "text": " ".join(found)[:MAX_TEXT],
    }
    for key in ("hostname", "backup_name", "container", "status", "time_stamp", "level"):
        if fields.get(key) is not None:
            body[key] = fields[key]
    return body


@dataclasses.dataclass
class Outcome:
    indexed: int = 0
    deleted: int = 0
    #: changes OpenSearch already held at a newer version (replays, late deliveries)
    stale: int = 0
    cursor: int = 0


class SearchIndex:
    """The index, its cursor, and the bulk requests that change them."""

    def __init__(self, opensearch: Any, index: str) -> None:
        self._client = opensearch
        self.index = index
        self._meta = f"{index}-meta"

    def ensure(self) -> None:
        if not self._client.indices.exists(index=self.index):
            self._client.indices.create(index=self.index, body={"mappings": MAPPINGS})
        if not self._client.indices.exists(index=self._meta):
            self._client.indices.create(index=self._meta, body={"mappings": {"dynamic": False}})

    def cursor(self) -> int:
        from opensearchpy.exceptions import NotFoundError

        try:
            found = self._client.get(index=self._meta, id="_cursor")
        except NotFoundError:
            return 0
        return int(found["_source"]["seq"])

    def set_cursor(self, seq: int) -> None:
        self._client.index(index=self._meta, id="_cursor", body={"seq": seq}, refresh=True)

    def apply(self, actions: list[tuple[str, str, int, Document | None]], outcome: Outcome) -> None:
        """Send (kind, doc_id, version, document or None to delete) in one bulk request."""
        if not actions:
            return
        lines: list[Document] = []
        for kind, doc_id, version, body in actions:
            meta = {
                "_index": self.index,
                "_id": f"{kind}/{doc_id}",
                "version": version,
                "version_type": "external",
            }
            if body is None:
                lines.append({"delete": meta})
            else:
                lines += [{"index": meta}, body]
        answer = self._client.bulk(body=lines, refresh=False)
        for item, (_, _, _, body) in zip(answer["items"], actions, strict=True):
            (operation,) = item.values()
            status = operation.get("status", 500)
            if status == 409:
                outcome.stale += 1
            elif status == 404 and body is None:
                outcome.deleted += 1  # NOTE: already gone: what a delete wants
            elif status >= 300:
                raise RuntimeError(f"OpenSearch refused {operation.get('_id')}: {operation}")
            elif body is None:
                outcome.deleted += 1
            else:
                outcome.indexed += 1

    def refresh(self) -> None:
        self._client.indices.refresh(index=self.index)

    def ids(self, kind: str, scope: Scope, text: str, offset: int, limit: int) -> list[str]:
        """The ids of the scope's records of ``kind`` whose text matches every word of
        ``text``, best first (``service.documents.TextSearch``)."""
        filters: list[Document] = [{"term": {"kind": kind}}]
        if not scope.everywhere:
            if scope.project_id is not None:
                filters.append({"term": {"project_id": scope.project_id}})
            if scope.user_id is not None:
                filters.append({"term": {"user_id": scope.user_id}})
        found = self._client.search(
            index=self.index,
            body={
                "from": offset,
                "size": limit,
                "_source": ["doc_id"],
                "query": {
                    "bool": {
                        "filter": filters,
                        "must": [{"match": {"text": {"query": text, "operator": "and"}}}],
                    }
                },
                "sort": ["_score", {"time_stamp": {"order": "desc", "missing": "_last"}}],
            },
        )
        return [hit["_source"]["doc_id"] for hit in found["hits"]["hits"]]


def _record_actions(storage: Storage, events: list[Event]) -> list[tuple[str, str, int, Any]]:
    """What each event asks of the index: the record as it is now (at its version, which
    is at least the event's), or its deletion at the event's version."""
    actions: list[tuple[str, str, int, Any]] = []
    everywhere = Scope(everywhere=True)
    for event in events:
        if event.operation == "delete":
            actions.append((event.kind, event.doc_id, event.version, None))
            continue
        record = getattr(storage, event.kind).get(scope=everywhere, doc_id=event.doc_id)
        if record is None:
            continue  # NOTE: deleted since; its delete event comes later in the feed
        fields = record.fields or {}
        if event.kind == "backups" and not fields:
            fields = index_fields(record.doc.get("backup_metadata") or {}, record.doc.get("status"))
        body = indexed(
            event.kind, record.doc_id, record.project_id, record.user_id, record.doc, fields
        )
        actions.append((event.kind, record.doc_id, record.version, body))
    return actions


def sync(storage: Storage, index: SearchIndex, *, limit: int | None = None) -> Outcome:
    """Apply the feed's events after the index's cursor, a batch at a time, moving the
    cursor past each batch once OpenSearch took it; up to ``limit`` events."""
    index.ensure()
    outcome = Outcome(cursor=index.cursor())
    done = 0
    while limit is None or done < limit:
        events = storage.events.page(project_id=None, since=outcome.cursor, limit=BATCH)
        if not events:
            break
        index.apply(_record_actions(storage, events), outcome)
        outcome.cursor = events[-1].seq
        index.set_cursor(outcome.cursor)
        done += len(events)
    index.refresh()
    return outcome


def reindex(backend: Backend, storage: Storage, index: SearchIndex) -> Outcome:
    """Index every record of a snapshot of the catalogue, then what the feed recorded
    since the snapshot began."""
    index.ensure()
    latest = storage.events.latest(project_id=None, before=None, limit=1)
    start = latest[0].seq if latest else storage.events.purged()
    outcome = Outcome(cursor=start)
    batch: list[tuple[str, str, int, Any]] = []
    for line in _records(backend.export()):
        batch.append(line)
        if len(batch) >= BATCH:
            index.apply(batch, outcome)
            batch = []
    index.apply(batch, outcome)
    index.set_cursor(start)
    replayed = sync(storage, index)
    outcome.indexed += replayed.indexed
    outcome.deleted += replayed.deleted
    outcome.stale += replayed.stale
    outcome.cursor = replayed.cursor
    return outcome


def _records(lines: Iterable[Document]) -> Iterator[tuple[str, str, int, Document]]:
    for line in lines:
        body = indexed(
            line["kind"],
            line["doc_id"],
            line.get("project_id"),
            line.get("user_id"),
            line.get("doc"),
            line.get("fields") or {},
        )
        yield line["kind"], line["doc_id"], int(line.get("version") or 1), body
