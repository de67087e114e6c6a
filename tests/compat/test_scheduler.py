# SPDX-License-Identifier: Apache-2.0
"""The freezer 19.0.0 scheduler's own API calls, made by its own code."""

from __future__ import annotations

import socket

import pytest
from freezer.scheduler import arguments
from freezer.scheduler import utils as scheduler_utils
from freezer.scheduler.freezer_scheduler import FreezerScheduler
from oslo_config import cfg


@pytest.fixture(scope="module", autouse=True)
def scheduler_conf():
    # NOTE: the scheduler reads its capabilities and mode from oslo.config's global CONF.
    if "capabilities" not in cfg.CONF:
        arguments.register_scheduler_opts(cfg.CONF)
    cfg.CONF([], project="freezer", default_config_files=[])
    yield cfg.CONF


@pytest.fixture
def scheduler(freezer, tmp_path):
    return FreezerScheduler(freezer, interval=60, job_path=str(tmp_path))


ACTION = {"action": "backup", "mode": "fs", "path_to_backup": "/etc", "backup_name": "etc"}


def test_register_twice_then_poll_update_and_sessions(freezer, scheduler):
    assert scheduler_utils.do_register(freezer) == 0
    assert scheduler_utils.do_register(freezer) == 0
    client_id = f"{freezer.project_id}_{socket.gethostname()}"
    assert freezer.clients.get(client_id)["client"]["hostname"] == socket.gethostname()

    mine = [
        freezer.jobs.create({"job_actions": [{"freezer_action": dict(ACTION)}]}) for _ in range(12)
    ]
    freezer.clients.create({"client_id": f"{freezer.project_id}_other", "hostname": "other"})
    freezer.jobs.create(
        {
            "client_id": f"{freezer.project_id}_other",
            "job_actions": [{"freezer_action": dict(ACTION)}],
        }
    )
    done = mine.pop()
    freezer.jobs.update(done, {"job_schedule": {"status": "completed", "result": "success"}})

    polled = scheduler.get_jobs()  # pages of 10: match_not status=completed, match client_id
    assert sorted(job["job_id"] for job in polled) == sorted(mine)

    job = polled[0]
    schedule = {**job["job_schedule"], "status": "running", "event": "", "current_pid": 4242}
    scheduler.update_job_metadata(job["job_id"], {**job, "job_schedule": schedule})
    stored = freezer.jobs.get(job["job_id"])
    assert stored["job_schedule"]["status"] == "running"
    assert stored["job_schedule"]["current_pid"] == 4242
    assert stored["job_schedule"]["time_created"] == job["job_schedule"]["time_created"]

    session_id = freezer.sessions.create({"schedule": {}, "hold_off": 0})
    freezer.sessions.add_job(session_id, job["job_id"])
    assert scheduler.start_session(session_id, job["job_id"], 0)["result"] == "success"
    ended = scheduler.end_session(session_id, job["job_id"], 1, "success")
    assert ended["result"] == "success"


def test_agent_metadata_is_created_then_patched_flat(freezer, scheduler):
    metadata = {
        "backup_name": "etc",
        "container": "c",
        "hostname": "h",
        "time_stamp": 1700000000,
        "curr_backup_level": 0,
        "action": "backup",
        "mode": "fs",
        "job_id": "j1",
    }
    scheduler.process_agent_result(dict(metadata))
    (backup,) = freezer.backups.list()
    backup_id = backup["backup_id"]
    scheduler.upload_metadata(
        {**metadata, "backup_id": backup_id, "status": "available", "fs_real_path": "/etc"}
    )
    stored = freezer.backups.get(backup_id)
    assert stored["backup_metadata"]["fs_real_path"] == "/etc"  # a flat PATCH is not lost
    assert "backup_id" not in stored["backup_metadata"]
    assert len(freezer.backups.list()) == 1
    scheduler.process_agent_result({"deleted_freezer_backup_ids": [backup_id]})
    assert freezer.backups.list() == []


def test_a_cindernative_record_without_hostname_is_accepted(freezer, scheduler):
    record = {
        "status": "creating",
        "mode": "cindernative",
        "action": "backup",
        "backup_media": "cindernative",
        "backup_name": "vol",
        "container": "c",
        "cindernative_vol_id": "v1",
        "time_stamp": 1700000000,
    }
    backup_id = scheduler.create_backup_record(record)
    assert freezer.backups.get(backup_id)["status"] == "creating"
