# SPDX-License-Identifier: Apache-2.0
"""The storage contract, run against every backend under test."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import pytest

from freezer_api.errors import Conflict, InvalidDocument, PreconditionFailed
from freezer_api.storage.base import (
    AnyOf,
    Change,
    Filter,
    Page,
    Query,
    Record,
    Scope,
    SortKey,
    StorageBusy,
)


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


# -- every kind ----------------------------------------------------------------------

#: kind -> an indexed field it filters on, and the document key a JSON-path filter reads
KINDS = {
    "backups": ("backup_name", ("backup_metadata", "mode")),
    "clients": ("hostname", ("client", "description")),
    "jobs": ("client_id", ("job_schedule", "status")),
    "actions": ("backup_name", ("freezer_action", "mode")),
    "sessions": ("status", ("schedule", "schedule_interval")),
}


def kind_record(kind: str, doc_id: str, value: str | None, path_value: object, **extra) -> Record:
    field, path = KINDS[kind]
    if kind == "clients":
        extra.setdefault("is_central", False)
    doc: dict[str, Any] = {"n": doc_id}
    inner = doc.setdefault(path[0], {})
    inner[path[1]] = path_value
    return Record(
        doc_id=doc_id, project_id="p1", user_id="u1", doc=doc, fields={field: value, **extra}
    )


@pytest.fixture(params=sorted(KINDS))
def kind(request) -> str:
    return request.param


def ids(records) -> list[str]:
    return [r.doc_id for r in records]


def test_every_method_on_every_kind(storage, kind):
    repository = getattr(storage, kind)
    field, path = KINDS[kind]
    for doc_id, value, path_value in [("a", "x", "fs"), ("b", "y", 7), ("c", None, "fs")]:
        assert repository.insert(kind_record(kind, doc_id, value, path_value)).version == 1
    assert repository.exists(doc_id="a") and not repository.exists(doc_id="zz")
    assert repository.get(scope=PROJECT, doc_id="b").doc[path[0]][path[1]] == 7
    assert sorted(repository.get_many(scope=PROJECT, doc_ids=["a", "c", "zz"])) == ["a", "c"]
    assert repository.get_many(scope=Scope(project_id="p2"), doc_ids=["a"]) == {}

    def search(*filters, **kwargs):
        return ids(repository.search(scope=PROJECT, query=page(filters=filters, **kwargs)))

    assert search(Filter(field, "x")) == ["a"]
    assert search(Filter(field, None)) == ["c"]
    assert search(Filter(field, "x", negate=True)) == ["b", "c"]
    # a JSON path compares type and value: 7 is not "7", and an absent key differs
    assert search(Filter(path, "fs")) == ["a", "c"]
    assert search(Filter(path, 7)) == ["b"] and search(Filter(path, "7")) == []
    assert search(Filter(path, "fs", negate=True)) == ["b"]
    assert search(Filter((path[0], "absent"), None, negate=True)) == ["a", "b", "c"]
    assert search(AnyOf((Filter(field, "y"), Filter(path, "fs")))) == ["a", "b", "c"]
    assert search(AnyOf((Filter(field, "y"), Filter(path, "none")))) == ["b"]
    # a marker continues under the same filters
    assert search(Filter(path, "fs"), limit=1) == ["a"]
    assert ids(
        repository.search(scope=PROJECT, query=page(1, marker="a", filters=(Filter(path, "fs"),)))
    ) == ["c"]

    def rename(current: Record) -> Change:
        return Change(doc={**current.doc, "renamed": True}, fields={field: "z"})

    assert repository.update(scope=PROJECT, doc_id="a", change=rename).version == 2
    assert search(Filter(field, "z")) == ["a"]
    assert repository.delete(scope=PROJECT, doc_id="a") is True
    assert repository.get(scope=PROJECT, doc_id="a") is None


def test_the_order_of_a_page_and_markers_under_it(storage):
    values = [("a", "m", 20), ("b", None, 10), ("c", "k", None), ("d", "m", 10), ("e", None, 30)]
    for doc_id, name, time_stamp in values:
        storage.backups.insert(record(doc_id, backup_name=name, time_stamp=time_stamp))
    for order in [
        (SortKey("time_stamp", descending=True),),
        (SortKey("backup_name"), SortKey("time_stamp", descending=True)),
        (SortKey("backup_name", descending=True),),
        (SortKey("doc_id", descending=True),),
    ]:
        whole = ids(storage.backups.search(scope=USER, query=page(order=order)))
        assert sorted(whole) == list("abcde")
        paged, marker = [], None
        while found := storage.backups.search(
            scope=USER, query=page(2, marker=marker, order=order)
        ):
            paged += ids(found)
            marker = found[-1].doc_id
        assert paged == whole, order
    newest = ids(
        storage.backups.search(scope=USER, query=page(order=(SortKey("time_stamp", True),)))
    )
    assert [doc_id for doc_id in newest if doc_id != "c"] == ["e", "a", "d", "b"]
    assert ids(
        storage.backups.search(scope=USER, query=page(order=(SortKey("doc_id", True),)))
    ) == list("edcba")


def test_a_shared_scope_adds_what_every_project_sees(storage):
    storage.clients.insert(record("own", project_id="p1", is_central=False))
    storage.clients.insert(record("central", project_id="p9", is_central=True))
    storage.clients.insert(record("foreign", project_id="p9", is_central=False))
    shared = Scope(project_id="p1", shared=True)
    assert ids(storage.clients.search(scope=shared, query=page())) == ["own", "central"]
    assert ids(storage.clients.search(scope=PROJECT, query=page())) == ["own"]
    assert storage.clients.get(scope=shared, doc_id="central") is not None
    assert storage.clients.get(scope=shared, doc_id="foreign") is None
    everywhere = Scope(everywhere=True)
    assert len(storage.clients.search(scope=everywhere, query=page())) == 3


def test_an_atomic_block_is_all_or_nothing(storage):
    storage.jobs.insert(record("j1"))

    def bump(current: Record) -> Change:
        return Change(doc={**current.doc, "bumped": True}, fields={})

    with pytest.raises(RuntimeError), storage.atomic() as transaction:
        transaction.actions.insert(record("a1"))
        transaction.jobs.update(scope=PROJECT, doc_id="j1", change=bump)
        # what the block wrote, it reads
        assert transaction.actions.get(scope=PROJECT, doc_id="a1") is not None
        raise RuntimeError("the rules refused the change")
    assert storage.actions.get(scope=PROJECT, doc_id="a1") is None
    job = storage.jobs.get(scope=PROJECT, doc_id="j1")
    assert "bumped" not in job.doc and job.version == 1
    with storage.atomic() as transaction:
        transaction.actions.insert(record("a1"))
        transaction.jobs.update(scope=PROJECT, doc_id="j1", change=bump)
    assert storage.actions.get(scope=PROJECT, doc_id="a1") is not None
    assert storage.jobs.get(scope=PROJECT, doc_id="j1").version == 2


def test_crossed_writers_end_busy_or_take_turns(storage):
    """Two blocks locking two records in opposite orders: a server engine ends one with
    ``StorageBusy`` (a deadlock, which running it again fixes); SQLite's writers take turns."""
    storage.sessions.insert(record("s1"))
    storage.sessions.insert(record("s2"))
    barrier = threading.Barrier(2, timeout=10)
    outcomes: list[str] = []

    def touch(current: Record) -> Change:
        return Change(doc={**current.doc, "t": current.doc.get("t", 0) + 1}, fields={})

    def writer(first: str, second: str) -> None:
        try:
            with storage.atomic() as transaction:
                transaction.sessions.update(scope=PROJECT, doc_id=first, change=touch)
                with contextlib.suppress(threading.BrokenBarrierError):
                    barrier.wait(timeout=2)
                transaction.sessions.update(scope=PROJECT, doc_id=second, change=touch)
            outcomes.append("written")
        except StorageBusy:
            outcomes.append("busy")

    threads = [
        threading.Thread(target=writer, args=("s1", "s2")),
        threading.Thread(target=writer, args=("s2", "s1")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    written = outcomes.count("written")
    totals = [storage.sessions.get(scope=PROJECT, doc_id=i).doc.get("t", 0) for i in ("s1", "s2")]
    if storage.engine.dialect.name == "sqlite":
        assert outcomes == ["written", "written"]
    else:
        assert sorted(outcomes) == ["busy", "written"]
    # what a busy block wrote is gone: each record counts the blocks that were written
    assert totals == [written, written]


def test_any_of_columns_pages_like_one_or(storage):
    """A free-text search (one value in any of several indexed columns) answers each page,
    offset, marker and extra filter as the plain OR does, whichever alternative matches."""
    names = ["etc", "db", "etc", "x", "etc", "db", "x", "etc", "db", "etc"]
    for number, name in enumerate(names):
        host = "etc" if number in (3, 6) else f"h{number % 3}"
        storage.backups.insert(
            record(f"b{number}", backup_name=name, hostname=host, container="c", status="available")
        )
    storage.backups.insert(record("etc", backup_name="other", hostname="h9", container="c"))
    text = AnyOf(tuple(Filter(column, "etc") for column in ("backup_name", "hostname", "doc_id")))
    expected = [f"b{n}" for n, name in enumerate(names) if name == "etc" or n in (3, 6)] + ["etc"]

    def search(**kwargs: Any) -> list[str]:
        return ids(storage.backups.search(scope=PROJECT, query=page(**kwargs)))

    assert search(filters=(text,), limit=100) == expected
    for limit in (1, 2, 3):
        for offset in (0, 1, 4):
            assert (
                search(filters=(text,), limit=limit, offset=offset)
                == expected[offset : offset + limit]
            )
    walked, marker = [], None
    while True:
        found = search(filters=(text,), limit=2, marker=marker)
        if not found:
            break
        walked += found
        marker = found[-1]
    assert walked == expected
    narrowed = (text, Filter("hostname", "h0"))
    assert search(filters=narrowed, limit=100) == [
        doc_id for doc_id in expected if doc_id in ("b0", "b9")
    ]
    hosts = {f"b{n}": "etc" if n in (3, 6) else f"h{n % 3}" for n in range(len(names))}
    by_host = sorted(expected, key=lambda doc_id: (hosts.get(doc_id, "h9"), expected.index(doc_id)))
    assert search(filters=(text,), limit=4, order=(SortKey("hostname"),)) == by_host[:4]
    assert search(filters=(text, Filter("status", "available")), limit=2) == expected[:2]
    assert search(filters=(AnyOf(()),), limit=2) == []
