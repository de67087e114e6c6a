# SPDX-License-Identifier: Apache-2.0
"""Every manager method of python-freezerclient 6.5.0, against a live server."""

from __future__ import annotations

import socket

import pytest
from freezerclient import exceptions

from tests.compat.conftest import make_client

BACKUP = {
    "backup_name": "etc",
    "container": "freezer_container",
    "hostname": "host1",
    "time_stamp": 1700000000,
    "curr_backup_level": 0,
    "mode": "fs",
    "path_to_backup": "/etc",
}
FREEZER_ACTION = {
    "action": "backup",
    "mode": "fs",
    "path_to_backup": "/etc",
    "backup_name": "etc",
    "container": "freezer_container",
}


def register(freezer) -> str:
    """Register the client that jobs default to: ``<project>_<this host>``."""
    hostname = socket.gethostname()
    client_id = f"{freezer.project_id}_{hostname}"
    assert freezer.clients.create({"client_id": client_id, "hostname": hostname}) == client_id
    return client_id


def test_backups(freezer, live_server):
    backup_id = freezer.backups.create(dict(BACKUP))
    assert len(backup_id) == 32
    expected = {
        "backup_id": backup_id,
        "user_id": "noauth-user",
        "project_id": freezer.project_id,
        "status": "available",
        "backup_metadata": BACKUP,
    }
    assert freezer.backups.get(backup_id) == expected
    assert freezer.backups.list() == [expected]
    other = freezer.backups.create({**BACKUP, "backup_name": "var"})
    assert [b["backup_id"] for b in freezer.backups.list(limit=1, offset=1)] == [other]
    found = freezer.backups.list(search={"match": [{"backup_name": "var"}]})
    assert [b["backup_id"] for b in found] == [other]
    updated = freezer.backups.update(backup_id, {"status": "error", "backup_metadata": {"x": 1}})
    assert updated["status"] == "error" and updated["backup_metadata"]["x"] == 1
    assert make_client(live_server, "elsewhere").backups.get(backup_id) is None
    freezer.backups.delete(backup_id)
    assert freezer.backups.get(backup_id) is None
    with pytest.raises(exceptions.ApiClientException) as raised:
        freezer.backups.delete(backup_id)
    assert raised.value.status_code == 404


def test_clients(freezer):
    client_id = register(freezer)
    client = freezer.clients.get(client_id)
    assert client["client"]["client_id"] == client_id
    assert client["client"]["hostname"] == socket.gethostname()
    assert client["client"]["uuid"]
    assert [c["client"]["client_id"] for c in freezer.clients.list()] == [client_id]
    assert freezer.clients.create({"client_id": client_id, "description": "again"}) == client_id
    assert freezer.clients.get(client_id)["client"]["description"] == "again"
    freezer.clients.delete(client_id)
    assert freezer.clients.get(client_id) is None


def test_jobs(freezer):
    client_id = register(freezer)
    job = {
        "description": "nightly",
        "job_schedule": {"schedule_interval": "1 days"},
        "job_actions": [
            {"freezer_action": {"action": "backup"}, "max_retries": 3, "mandatory": True}
        ],
        "action_defaults": {"mode": "fs", "path_to_backup": "/etc", "backup_name": "etc"},
    }
    job_id = freezer.jobs.create(dict(job))
    stored = freezer.jobs.get(job_id)
    assert stored["client_id"] == client_id  # the client's default
    assert stored["job_schedule"]["time_created"] > 0
    (step,) = stored["job_actions"]
    assert step["mandatory"] is True and step["max_retries"] == 3
    assert step["freezer_action"]["mode"] == "fs"
    assert step["freezer_action"]["path_to_backup"] == "/etc"
    assert freezer.jobs.create(dict(job), job_id="chosen-id") == "chosen-id"
    assert {j["job_id"] for j in freezer.jobs.list_all()} == {job_id, "chosen-id"}
    assert len(freezer.jobs.list(limit=1)) == 1
    version = freezer.jobs.update(job_id, {"description": "weekly"})
    assert isinstance(version, int) and version > 1
    assert freezer.jobs.get(job_id)["description"] == "weekly"
    assert freezer.jobs.start_job(job_id) == {"result": "success"}
    assert freezer.jobs.start_job(job_id) == {"result": "start already requested"}
    assert freezer.jobs.stop_job(job_id) == {"result": "success"}
    assert freezer.jobs.abort_job(job_id) == {"result": "success"}
    assert freezer.jobs.get(job_id)["job_schedule"]["event"] == "abort"
    freezer.jobs.delete(job_id)
    assert freezer.jobs.get(job_id) is None


def test_actions(freezer):
    action_id = freezer.actions.create({"freezer_action": dict(FREEZER_ACTION), "max_retries": 2})
    action = freezer.actions.get(action_id)
    assert action["freezer_action"]["path_to_backup"] == "/etc"
    assert action["max_retries"] == 2 and action["max_retries_interval"] == 6
    assert (
        freezer.actions.create({"freezer_action": dict(FREEZER_ACTION)}, action_id="mine") == "mine"
    )
    assert {a["action_id"] for a in freezer.actions.list()} == {action_id, "mine"}
    version = freezer.actions.update(action_id, {"freezer_action": {"mode": "mysql"}})
    assert version == 2
    updated = freezer.actions.get(action_id)
    assert updated["freezer_action"]["mode"] == "mysql"
    assert updated["freezer_action"]["path_to_backup"] == "/etc"
    assert updated["max_retries"] == 2
    freezer.actions.delete(action_id)
    assert freezer.actions.get(action_id) is None


def test_sessions(freezer):
    client_id = register(freezer)
    job_id = freezer.jobs.create(
        {"client_id": client_id, "job_actions": [{"freezer_action": dict(FREEZER_ACTION)}]}
    )
    session_id = freezer.sessions.create(
        {"description": "s", "schedule": {"schedule_interval": "continuous"}, "hold_off": 0}
    )
    assert freezer.sessions.get(session_id)["status"] == "active"
    assert freezer.sessions.create({"schedule": {}}, session_id="named") == "named"
    assert {s["session_id"] for s in freezer.sessions.list_all()} == {session_id, "named"}
    assert len(freezer.sessions.list()) == 2
    assert freezer.sessions.update(session_id, {"description": "t"}) > 1
    freezer.sessions.add_job(session_id, job_id)
    job = freezer.jobs.get(job_id)
    assert job["session_id"] == session_id
    assert job["job_schedule"]["schedule_interval"] == "continuous"
    started = freezer.sessions.start_session(session_id, job_id, 0)
    assert started == {"result": "success", "session_tag": 1}
    ended = freezer.sessions.end_session(session_id, job_id, 1, "success")
    assert ended == {"result": "success", "session_tag": 1}
    session = freezer.sessions.get(session_id)
    assert session["status"] == "completed" and session["result"] == "success"
    freezer.sessions.remove_job(session_id, job_id)
    assert freezer.sessions.get(session_id)["jobs"] == {}
    assert freezer.jobs.get(job_id)["session_id"] == ""
    freezer.sessions.delete(session_id)
    assert freezer.sessions.get(session_id) is None
