# SPDX-License-Identifier: Apache-2.0
"""The storage contract, run against every backend under test."""

from __future__ import annotations

import threading

import pytest

from freezer_api.errors import Conflict, InvalidDocument, PreconditionFailed
from freezer_api.storage.base import Change, Filter, Page, Query, Record, Scope


def record(doc_id: str, user_id: str = "u1", project_id: str = "p1", **fields) -> Record:
    return Record(
        doc_id=doc_id,
        project_id=project_id,
        user_id=user_id,
        doc={"backup_metadata": {"n": doc_id}},
        fields=fields,
    )


USER = Scope(user_id="u1")
PROJECT = Scope(project_id="p1")


def page(limit: int = 10, offset: int = 0, marker: str | None = None, **kwargs) -> Query:
    return Query(page=Page(limit=limit, offset=offset, marker=marker), **kwargs)


def test_insert_then_get_returns_version_1(storage):
    stored = storage.backups.insert(record("a"))
    assert stored.version == 1
    found = storage.backups.get(scope=USER, doc_id="a")
    assert (found.doc_id, found.user_id, found.project_id, found.version) == ("a", "u1", "p1", 1)
    assert found.doc == {"backup_metadata": {"n": "a"}}


def test_get_is_scoped(storage):
    storage.backups.insert(record("a"))
    assert storage.backups.get(scope=Scope(user_id="u2"), doc_id="a") is None
    assert storage.backups.get(scope=Scope(project_id="p2"), doc_id="a") is None
    assert storage.backups.get(scope=PROJECT, doc_id="a") is not None


def test_duplicate_insert_is_a_conflict(storage):
    storage.backups.insert(record("a"))
    with pytest.raises(Conflict):
        storage.backups.insert(record("a"))
    storage.backups.insert(record("a", user_id="u2"))


def test_search_pages_in_insertion_order(storage):
    for name in "edcba":
        storage.backups.insert(record(name))
    everything = [r.doc_id for r in storage.backups.search(scope=USER, query=page())]
    assert everything == list("edcba")
    assert [r.doc_id for r in storage.backups.search(scope=USER, query=page(2, 1))] == ["d", "c"]
    after = storage.backups.search(scope=USER, query=page(2, marker="c"))
    assert [r.doc_id for r in after] == ["b", "a"]


def test_unknown_marker_is_invalid(storage):
    storage.backups.insert(record("a", user_id="u2"))
    with pytest.raises(InvalidDocument):
        storage.backups.search(scope=USER, query=page(marker="a"))


def test_search_filters_on_indexed_fields(storage):
    storage.backups.insert(record("a", backup_name="etc", time_stamp=10))
    storage.backups.insert(record("b", backup_name="var", time_stamp=20))
    storage.backups.insert(record("c", backup_name="etc", time_stamp=30))
    found = storage.backups.search(scope=USER, query=page(filters=(Filter("backup_name", "etc"),)))
    assert [r.doc_id for r in found] == ["a", "c"]
    negated = (Filter("backup_name", "etc", negate=True),)
    assert [r.doc_id for r in storage.backups.search(scope=USER, query=page(filters=negated))] == [
        "b"
    ]
    window = page(time_after=15, time_before=30)
    assert [r.doc_id for r in storage.backups.search(scope=USER, query=window)] == ["b", "c"]


def test_update_bumps_version_and_keeps_the_owner(storage):
    storage.backups.insert(record("a"))

    def change(current: Record) -> Change:
        return Change(doc={**current.doc, "x": 1}, fields={"status": "available"})

    updated = storage.backups.update(scope=USER, doc_id="a", change=change)
    assert updated.version == 2 and updated.user_id == "u1"
    assert storage.backups.get(scope=USER, doc_id="a").doc["x"] == 1
    assert storage.backups.update(scope=USER, doc_id="zzz", change=change) is None


def test_update_with_a_stale_version_fails_and_changes_nothing(storage):
    storage.backups.insert(record("a"))
    with pytest.raises(PreconditionFailed):
        storage.backups.update(
            scope=USER, doc_id="a", change=lambda r: Change(doc={}, fields={}), if_version=7
        )
    assert storage.backups.get(scope=USER, doc_id="a").version == 1


def test_concurrent_updates_lose_nothing(storage):
    storage.backups.insert(record("a"))

    def increment(current: Record) -> Change:
        return Change(doc={**current.doc, "n": current.doc.get("n", 0) + 1}, fields={})

    def worker() -> None:
        for _ in range(20):
            storage.backups.update(scope=USER, doc_id="a", change=increment)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    final = storage.backups.get(scope=USER, doc_id="a")
    assert final.doc["n"] == 80
    assert final.version == 81


def test_delete_reports_whether_something_was_deleted(storage):
    storage.backups.insert(record("a"))
    assert storage.backups.delete(scope=Scope(user_id="u2"), doc_id="a") is False
    assert storage.backups.delete(scope=USER, doc_id="a") is True
    assert storage.backups.delete(scope=USER, doc_id="a") is False
    storage.backups.insert(record("a"))
