# SPDX-License-Identifier: Apache-2.0
"""Scheduler liveness and stale jobs, from the scheduler's own polls, on every engine."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import falcon.testing
import pytest

from freezer_api.app import create_app
from tests.conftest import V2, make_job


@dataclasses.dataclass
class Clock:
    now: float

    def __call__(self) -> float:
        return self.now


START = 1_800_000_000.0


@pytest.fixture
def clock():
    return Clock(START)


@pytest.fixture
def live(settings, storage, clock):
    settings = dataclasses.replace(settings, alive_seconds=300, lease_seconds=900)
    return V2(falcon.testing.TestClient(create_app(settings, storage, clock=clock)), "p1")


def poll(api: V2, client_id: str) -> list[dict[str, Any]]:
    """The freezer 19.0.0 scheduler's poll: a GET with its search document as the body."""
    search = {"match_not": [{"status": "completed"}], "match": [{"client_id": client_id}]}
    answer = api.client.simulate_get(
        api.url("jobs"), body=json.dumps(search), headers=api.headers, params={"limit": 10}
    )
    assert answer.status_code == 200, answer.text
    return answer.json["jobs"]


def shown(api: V2, client_id: str) -> dict[str, Any]:
    answer = api.get(f"clients/{client_id}", params={"liveness": "true"})
    assert answer.status_code == 200, answer.text
    return answer.json


def test_a_client_is_alive_while_it_polls_and_not_once_it_stops(live, clock, storage):
    client_id = live.register("sched-1")
    assert shown(live, client_id)["last_seen"] == START
    assert shown(live, client_id)["alive"] is True
    clock.now += 200
    poll(live, client_id)
    assert shown(live, client_id)["last_seen"] == START + 200
    clock.now += 301
    state = shown(live, client_id)
    assert state["alive"] is False and state["last_seen"] == START + 200
    # the answers without the parameter are those the official client reads, unchanged
    plain = live.get(f"clients/{client_id}").json
    assert set(plain) == {"project_id", "user_id", "client"}
    listed = live.get("clients", params={"liveness": "true"}).json["clients"]
    assert [(entry["client"]["client_id"], entry["alive"]) for entry in listed] == [
        (client_id, False)
    ]


def test_polls_write_a_contact_only_every_tenth_of_alive_seconds(live, clock, storage):
    client_id = live.register("sched-1")
    for _ in range(5):
        clock.now += 5
        poll(live, client_id)
    assert shown(live, client_id)["last_seen"] == START  # 25 s < 30 s: nothing written
    # the process asks the database again 30 s after it last asked (at START + 5), and the
    # database writes it, the stored contact being older than 30 s
    clock.now += 6
    poll(live, client_id)
    assert shown(live, client_id)["last_seen"] == START
    clock.now += 5
    poll(live, client_id)
    assert shown(live, client_id)["last_seen"] == START + 36
    # a job update that names the client is a contact too
    job_id = live.created("jobs", make_job(client_id))
    clock.now += 40
    update = {"client_id": client_id, "job_schedule": {"status": "scheduled"}}
    assert live.patch(f"jobs/{job_id}", update).status_code == 200
    assert shown(live, client_id)["last_seen"] == START + 76


def test_a_client_never_seen_is_neither_alive_nor_dead(live, storage):
    client_id = live.register("sched-1")
    # as a client registered before the server kept contacts
    storage.engine.dispose()
    with storage.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE clients SET last_seen = NULL")
    state = shown(live, client_id)
    assert state == {**state, "last_seen": None, "alive": None}


def test_a_running_job_of_a_silent_client_is_stale(live, clock):
    client_id = live.register("sched-1")
    other = live.register("sched-2")
    running = live.created("jobs", make_job(client_id))
    idle = live.created("jobs", make_job(client_id))
    elsewhere = live.created("jobs", make_job(other))
    for job_id, client in ((running, client_id), (elsewhere, other)):
        update = {"client_id": client, "job_schedule": {"status": "running"}}
        assert live.patch(f"jobs/{job_id}", update).status_code == 200
    assert live.listed("jobs", query="stale=true") == []
    clock.now += 600
    poll(live, other)  # sched-2 keeps polling; sched-1 has gone
    clock.now += 400
    stale = live.listed("jobs", query="stale=true")
    assert [job["job_id"] for job in stale] == [running]
    flagged = live.get("jobs", params={"liveness": "true"}).json["jobs"]
    by_id = {job["job_id"]: job for job in flagged}
    assert by_id[running]["stale"] is True
    assert by_id[running]["client_last_seen"] == START
    assert by_id[idle]["stale"] is False and by_id[elsewhere]["stale"] is False
    one = live.get(f"jobs/{running}", params={"liveness": "true"}).json
    assert one["stale"] is True
    # by default nothing changes: the job still says running
    assert live.get(f"jobs/{running}").json["job_schedule"]["status"] == "running"
    assert "stale" not in live.get(f"jobs/{running}").json


def test_another_project_sees_neither_contacts_nor_stale_jobs(live, clock, client):
    client_id = live.register("sched-1")
    job_id = live.created("jobs", make_job(client_id))
    update = {"client_id": client_id, "job_schedule": {"status": "running"}}
    assert live.patch(f"jobs/{job_id}", update).status_code == 200
    clock.now += 1000
    other = V2(live.client, "p2", user_id="u2")
    assert other.listed("jobs", query="stale=true") == []
    assert other.get(f"clients/{client_id}", params={"liveness": "true"}).status_code == 404
    # a poll from another project does not count as the client's contact
    poll(other, client_id)
    assert shown(live, client_id)["last_seen"] == START


@pytest.mark.parametrize(
    ("path", "query", "message"),
    [
        ("jobs", "stale=false", "stale is a filter"),
        ("jobs", "stale=maybe", "stale is a filter"),
        ("backups", "stale=true", "stale is a filter of jobs"),
        ("backups", "liveness=true", "liveness is shown on clients and jobs"),
        ("clients", "liveness=perhaps", "must be true or false"),
    ],
)
def test_bad_liveness_parameters_are_refused(live, path, query, message):
    live.refused(path, query, message)


def test_fail_stale_ends_a_stale_job_and_its_session_entry_once(live, clock, storage, settings):
    from freezer_api.service.liveness import Liveness
    from freezer_api.service.stale import end_stale_jobs

    liveness = Liveness(300, 900, clock)
    client_id = live.register("sched-1")
    back = live.register("sched-2")
    job_id = live.created("jobs", make_job(client_id))
    returning = live.created("jobs", make_job(back))
    session_id = live.created("sessions", {"schedule": {"schedule_interval": "continuous"}})
    assert live.put(f"sessions/{session_id}/jobs/{job_id}").status_code == 204
    for job, client in ((job_id, client_id), (returning, back)):
        update = {"client_id": client, "job_schedule": {"status": "running"}}
        assert live.patch(f"jobs/{job}", update).status_code == 200
    assert end_stale_jobs(storage, liveness) == []
    clock.now += 1000
    poll(live, back)  # sched-2 is back in time
    cursor = live.get("events", params={"limit": 1000}).json["next"]
    assert end_stale_jobs(storage, liveness) == [job_id]
    schedule = live.get(f"jobs/{job_id}").json["job_schedule"]
    assert (schedule["status"], schedule["result"]) == ("completed", "fail")
    assert schedule["time_ended"] == START + 1000
    entry = live.get(f"sessions/{session_id}").json["jobs"][job_id]
    assert (entry["status"], entry["result"]) == ("completed", "fail")
    assert live.get(f"jobs/{returning}").json["job_schedule"]["status"] == "running"
    changes = live.get("events", params={"since": cursor}).json["events"]
    assert [(event["kind"], event["id"], event["user_id"]) for event in changes] == [
        ("jobs", job_id, None),
        ("sessions", session_id, None),
    ]
    assert end_stale_jobs(storage, liveness) == []  # once
    assert live.get("events", params={"since": cursor}).json["events"] == changes
