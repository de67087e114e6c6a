# SPDX-License-Identifier: Apache-2.0
"""The change feed (``GET /v2/{project_id}/events``), on every engine."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from freezer_api.cli import manage
from freezer_api.storage.base import Record, Scope
from tests.conftest import V2, make_backup, make_job

READER = {"X-Roles": "reader"}


def events(api: V2, **params: Any) -> Any:
    answer = api.get("events", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json


def summary(page: dict[str, Any]) -> list[tuple[str, str, str, int]]:
    return [
        (event["kind"], event["id"], event["operation"], event["version"])
        for event in page["events"]
    ]


def test_every_write_of_every_kind_is_an_event_oldest_first(api):
    client_id = api.register("host-1")
    backup_id = api.created("backups", make_backup())
    job_id = api.created("jobs", make_job(client_id))
    assert api.patch(f"jobs/{job_id}", {"description": "weekly"}).status_code == 200
    action_id = api.created("actions", {"freezer_action": {"action": "backup", "mode": "fs"}})
    session_id = api.created("sessions", {"schedule": {"schedule_interval": "continuous"}})
    assert api.put(f"sessions/{session_id}/jobs/{job_id}").status_code == 204
    assert api.delete(f"backups/{backup_id}").status_code == 204
    page = events(api)
    listed = summary(page)
    # a job's actions are stored beside it, in its transaction
    job_actions = [entry for entry in listed if entry[0] == "actions" and entry[1] != action_id]
    assert [entry[2] for entry in job_actions] == ["create"]
    assert [entry for entry in listed if entry not in job_actions] == [
        ("clients", client_id, "create", 1),
        ("backups", backup_id, "create", 1),
        ("jobs", job_id, "create", 1),
        ("jobs", job_id, "update", 2),
        ("actions", action_id, "create", 1),
        ("sessions", session_id, "create", 1),
        ("sessions", session_id, "update", 2),
        ("jobs", job_id, "update", 3),
        ("backups", backup_id, "delete", 2),
    ]
    cursors = [int(event["cursor"]) for event in page["events"]]
    assert cursors == sorted(set(cursors))
    assert page["next"] == page["events"][-1]["cursor"]
    first = page["events"][0]
    assert set(first) == {"cursor", "kind", "id", "operation", "version", "time", "user_id"}
    assert first["user_id"] == "u1" and abs(first["time"] - time.time()) < 60


def test_the_cursor_pages_through_and_waits_at_the_end(api):
    ids = [api.created("backups", make_backup(time_stamp=1000 + n)) for n in range(5)]
    first = events(api, limit=2)
    assert [event["id"] for event in first["events"]] == ids[:2]
    rest = events(api, since=first["next"], limit=10)
    assert [event["id"] for event in rest["events"]] == ids[2:]
    end = events(api, since=rest["next"])
    assert end == {"events": [], "next": rest["next"]}
    later = api.created("backups", make_backup(time_stamp=2000))
    assert [event["id"] for event in events(api, since=end["next"])["events"]] == [later]


def test_a_write_that_fails_leaves_no_event(api):
    client_id = api.register("host-1")
    before = events(api)
    assert api.post("backups", {"time_stamp": "soon"}).status_code == 400
    job_id = api.created("jobs", make_job(client_id))
    session_id = api.created("sessions", {"schedule": {"schedule_interval": "continuous"}})
    after_job = events(api)
    # a session and a job change together, or neither does
    assert api.put(f"sessions/{session_id}/jobs/no-such-job").status_code == 404
    assert api.patch(f"jobs/{job_id}", {"job_schedule": "nightly"}).status_code == 400
    stale = api.patch(f"jobs/{job_id}", {"description": "x"}, headers={"If-Match": '"7"'})
    assert stale.status_code == 412
    assert api.delete("backups/no-such-backup").status_code == 404
    assert events(api, since=after_job["next"])["events"] == []
    assert len(after_job["events"]) > len(before["events"])


def test_a_project_sees_only_its_own_events(api, other_api):
    api.register("host-a")
    other_api.register("host-b")
    assert {event["id"] for event in events(api)["events"]} == {"host-a"}
    assert {event["id"] for event in events(other_api)["events"]} == {"host-b"}
    # a reader of the project reads them; another project's caller does not
    assert api.get("events", headers=READER).status_code == 200
    foreign = other_api.client.simulate_get(
        "/v2/project-a/events",
        headers={"X-User-Id": "u2", "X-Project-Id": "project-b", "X-Roles": "member"},
    )
    assert foreign.status_code == 403


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("since=abc", "is not one this server gave"),
        ("since=-1", "is not one this server gave"),
        ("since=99999999999999999999999", "is not one this server gave"),
        ("limit=many", "whole number"),
        ("kind=backups", "Unknown query parameter"),
        ("since=1&since=2", "more than once"),
    ],
)
def test_bad_parameters_are_refused(api, query, message):
    api.refused("events", query, message)


def test_purged_events_are_gone_and_older_cursors_answer_410(api, settings, storage):
    ids = [api.created("backups", make_backup(time_stamp=1000 + n)) for n in range(3)]
    cursors = [event["cursor"] for event in events(api)["events"]]
    assert storage.events.purge(before=int(time.time()) + 60) == 3
    gone = api.get("events", params={"since": cursors[0]})
    assert gone.status_code == 410, gone.text
    assert "purged" in gone.json["description"]
    # the last purged cursor, and the first page without one, go on from there
    assert events(api, since=cursors[-1]) == {"events": [], "next": cursors[-1]}
    assert events(api) == {"events": [], "next": cursors[-1]}
    newer = api.created("backups", make_backup(time_stamp=5000))
    page = events(api)
    assert [event["id"] for event in page["events"]] == [newer]
    # numbers are never handed out twice, even once every event was purged
    assert int(page["events"][0]["cursor"]) > int(cursors[-1])
    assert ids  # the purged events' records are untouched
    assert api.get(f"backups/{ids[0]}").status_code == 200


def test_freezer_manage_purges_by_time_or_age(api, settings, storage, capsys):
    api.created("backups", make_backup())
    config = settings_file(settings)
    assert manage.main(["--config-file", config, "events", "purge", "--before", "1d"]) == 0
    assert "purged 0 events" in capsys.readouterr().out
    assert len(events(api)["events"]) == 1
    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 120))
    assert manage.main(["--config-file", config, "events", "purge", "--before", soon]) == 0
    assert "purged 1 events" in capsys.readouterr().out
    assert events(api)["events"] == []
    assert manage.main(["--config-file", config, "events", "purge", "--before", "soon"]) == 1
    assert "neither seconds since the epoch nor an ISO 8601 date" in capsys.readouterr().err


def settings_file(settings: Any) -> str:
    import pathlib
    import tempfile

    path = pathlib.Path(tempfile.mkdtemp()) / "freezer-api.conf"
    path.write_text(f"[database]\nconnection = {settings.database_url}\n")
    return str(path)


def test_concurrent_writers_never_hide_an_event_from_a_follower(storage):
    """Writers in many threads; a follower reading with the cursor all along sees every
    event once, in cursor order, each record's versions in order: an event never becomes
    visible after a newer cursor was read (as auto-increment ids would on PostgreSQL and
    MariaDB, handed out at insert, not at commit)."""
    writers, writes = 8, 40
    scope = Scope(project_id="p1")
    done = threading.Event()
    seen: list[Any] = []
    errors: list[BaseException] = []

    def write(number: int) -> None:
        try:
            for index in range(writes):
                doc_id = f"b{number}-{index}"
                record = Record(doc_id, "p1", f"u{number}", {"n": index})
                storage.backups.insert(record)
                storage.backups.update(
                    scope=scope,
                    doc_id=doc_id,
                    change=lambda current: type_change(current),
                )
                if index % 4 == 0:
                    storage.backups.delete(scope=scope, doc_id=doc_id)
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)

    def follow() -> None:
        cursor = None
        while True:
            finished = done.is_set()
            page = storage.events.page(project_id="p1", since=cursor, limit=50)
            seen.extend(page)
            if page:
                cursor = page[-1].seq
            elif finished:
                return

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    follower = threading.Thread(target=follow)
    follower.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    done.set()
    follower.join(timeout=300)
    assert not errors, errors
    everything = storage.events.page(project_id="p1", since=None, limit=10_000)
    assert len(everything) == writers * writes * 2 + writers * writes // 4
    assert [event.seq for event in seen] == [event.seq for event in everything]
    versions: dict[str, list[int]] = {}
    for event in seen:
        versions.setdefault(event.doc_id, []).append(event.version)
    assert all(listed == sorted(listed) for listed in versions.values())


def type_change(current: Record) -> Any:
    from freezer_api.storage.base import Change

    return Change(doc={**current.doc, "changed": True}, fields={})


def test_imported_records_are_created_in_the_feed(api, storage):
    from freezer_api.storage.sql import transfer

    def exported(doc_id: str, version: int) -> dict[str, Any]:
        return {
            "kind": "clients",
            "doc_id": doc_id,
            "project_id": "project-a",
            "user_id": "u9",
            "version": version,
            "doc": {"client": {"client_id": doc_id, "hostname": "h"}},
            "fields": {"hostname": "h", "is_central": False},
        }

    api.register("before")
    transfer.import_records(storage.engine, [exported("c1", 1), exported("c2", 3)])
    page = events(api)
    assert summary(page)[1:] == [("clients", "c1", "create", 1), ("clients", "c2", "create", 3)]
    assert [event["user_id"] for event in page["events"][1:]] == [None, None]
    # a dry run, or an import that fails, leaves none
    transfer.import_records(storage.engine, [exported("c3", 1)], dry_run=True)
    with pytest.raises(Exception, match="already exists"):
        transfer.import_records(storage.engine, [exported("c4", 1), exported("c1", 1)])
    assert events(api, since=page["next"])["events"] == []


def test_the_feed_survives_a_restart_and_goes_on_numbering(settings, storage):
    from freezer_api.app import storage_options
    from freezer_api.storage import open_storage

    first = Record("b1", "p1", "u1", {"n": 1})
    storage.backups.insert(first)
    before = storage.events.page(project_id="p1", since=None, limit=10)
    storage.close()
    reopened = open_storage(settings.database_url, storage_options(settings))
    try:
        assert reopened.events.page(project_id="p1", since=None, limit=10) == before
        reopened.backups.insert(Record("b2", "p1", "u1", {"n": 2}))
        after = reopened.events.page(project_id="p1", since=before[-1].seq, limit=10)
        assert [(event.doc_id, event.operation) for event in after] == [("b2", "create")]
        assert after[0].seq > before[-1].seq
    finally:
        reopened.close()
