# SPDX-License-Identifier: Apache-2.0
"""v2 sessions: creation, jobs joining and leaving, the start/end state machine."""

from __future__ import annotations

import pytest

from tests.conftest import make_job


@pytest.fixture
def job_id(api) -> str:
    return api.created("jobs", make_job(api.register()))


@pytest.fixture
def session_id(api) -> str:
    return api.created("sessions", {"schedule": {"schedule_interval": "continuous"}, "hold_off": 0})


def test_create_ignores_the_state_a_client_sends(api):
    body = {
        "schedule": {},
        "description": "d",
        "jobs": ["a", "b"],
        "status": "completed",
        "time_start": 5,
        "user_id": "mallory",
        "session_id": "chosen",
        "extra": "kept",
    }
    session_id = api.created("sessions", body)
    assert session_id != "chosen"
    stored = api.get(f"sessions/{session_id}").json
    assert stored["status"] == "active" and stored["jobs"] == {} and stored["time_start"] == -1
    assert stored["user_id"] == "u1" and stored["extra"] == "kept"
    assert stored["hold_off"] == 30 and stored["session_tag"] == 0


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ({"description": "no schedule"}, "'schedule' is a required property"),
        ({"schedule": {"when": "now"}}, "Additional properties are not allowed"),
        ({"schedule": {}, "session_tag": "1"}, "session_tag: must be of type integer"),
        ({"schedule": {}, "hold_off": -1}, "hold_off: "),
    ],
)
def test_invalid_sessions_are_400(api, body, said):
    result = api.post("sessions", body)
    assert result.status_code == 400 and said in result.json["description"]
    assert api.listed("sessions") == []


def test_add_and_remove_a_job(api, session_id, job_id):
    assert api.put(f"sessions/{session_id}/jobs/{job_id}").status_code == 204
    session = api.get(f"sessions/{session_id}").json
    assert session["jobs"][job_id]["client_id"] == f"{api.project}_host1.example.org"
    job = api.get(f"jobs/{job_id}").json
    assert job["session_id"] == session_id
    assert job["job_schedule"]["schedule_interval"] == "continuous"
    assert job["job_schedule"]["time_created"] > 0
    assert api.delete(f"sessions/{session_id}/jobs/{job_id}").status_code == 204
    assert api.get(f"sessions/{session_id}").json["jobs"] == {}
    job = api.get(f"jobs/{job_id}").json
    assert (job["session_id"], job["session_tag"], job["job_schedule"]["event"]) == ("", 0, "stop")


def test_a_job_joining_a_session_runs_on_the_session_schedule_alone(api):
    """freezer-api 19.0.0 replaces the job's schedule with the session's; the job's own
    ``schedule_*`` keys go the same way here, and what its runs recorded stays."""
    job_schedule = {"schedule_interval": "1 days", "schedule_start_date": "2026-01-01T00:00:00"}
    job_id = api.created("jobs", make_job(api.register(), job_schedule=job_schedule))
    api.patch(f"jobs/{job_id}", {"job_schedule": {"status": "scheduled", "current_pid": 42}})
    before = api.get(f"jobs/{job_id}").json["job_schedule"]
    session_schedule = {"schedule_date": "2026-06-01T02:00:00", "event": "start"}
    session_id = api.created("sessions", {"schedule": session_schedule})

    assert api.put(f"sessions/{session_id}/jobs/{job_id}").status_code == 204

    joined = api.get(f"jobs/{job_id}").json["job_schedule"]
    assert {key for key in joined if key.startswith("schedule_")} == {"schedule_date"}
    assert joined["schedule_date"] == "2026-06-01T02:00:00" and joined["event"] == "start"
    kept = ("time_created", "time_started", "time_ended", "status", "current_pid")
    assert {key: joined[key] for key in kept} == {key: before[key] for key in kept}


@pytest.mark.parametrize(
    ("method", "path", "said"),
    [
        ("PUT", "sessions/{session}/jobs/missing", "No job found with id missing"),
        ("PUT", "sessions/missing/jobs/{job}", "No session found with id missing"),
        ("DELETE", "sessions/{session}/jobs/{job}", "is not in session"),
        ("DELETE", "sessions/missing/jobs/{job}", "No session found with id missing"),
    ],
)
def test_session_job_errors_are_404_and_change_nothing(api, session_id, job_id, method, path, said):
    job_before = api.get(f"jobs/{job_id}").json
    result = api.request(method, path.format(session=session_id, job=job_id))
    assert result.status_code == 404 and said in result.json["description"]
    assert api.get(f"jobs/{job_id}").json == job_before
    assert api.get(f"sessions/{session_id}").json["jobs"] == {}


def act(api, session_id, action, **arguments):
    return api.post(f"sessions/{session_id}/action", {action: arguments})


def test_start_and_end(api, session_id, job_id):
    api.put(f"sessions/{session_id}/jobs/{job_id}")
    started = act(api, session_id, "start", job_id=job_id, current_tag=0)
    assert started.status_code == 202 and started.json == {"result": "success", "session_tag": 1}
    session = api.get(f"sessions/{session_id}").json
    assert session["status"] == "running" and session["jobs"][job_id]["status"] == "running"
    ended = act(api, session_id, "end", job_id=job_id, current_tag=1, result="fail")
    assert ended.json == {"result": "success", "session_tag": 1}
    session = api.get(f"sessions/{session_id}").json
    assert (session["status"], session["result"]) == ("completed", "fail")


def test_hold_off_and_out_of_sync(api, job_id):
    session_id = api.created("sessions", {"schedule": {}, "hold_off": 3600})
    second = api.created("jobs", make_job(f"{api.project}_host1.example.org"))
    for member in (job_id, second):
        api.put(f"sessions/{session_id}/jobs/{member}")
    assert act(api, session_id, "start", job_id=job_id, current_tag=0).json["result"] == "success"
    # within hold_off, a job still at the old tag joins; one at the new tag holds off
    assert act(api, session_id, "start", job_id=second, current_tag=0).json["result"] == "success"
    assert act(api, session_id, "start", job_id=second, current_tag=1).json["result"] == "hold-off"
    later = api.created("sessions", {"schedule": {}, "hold_off": 0, "session_tag": 5})
    api.put(f"sessions/{later}/jobs/{job_id}")
    assert act(api, later, "start", job_id=job_id, current_tag=3).json["result"] == "out-of-sync"


@pytest.mark.parametrize(
    ("body", "status", "said"),
    [
        ({"start": {"job_id": "{job}", "current_tag": 7}}, 400, "requested tag value too high"),
        ({"start": {"job_id": "{job}"}}, 400, "needs current_tag as an integer"),
        ({"start": {"current_tag": 0}}, 400, "needs job_id"),
        ({"end": {"job_id": "{job}", "current_tag": 0}}, 400, "needs result"),
        ({"start": {"job_id": "stranger", "current_tag": 0}}, 400, "not found in session"),
        ({"pause": {}}, 400, "Unknown session action 'pause'"),
        ({"start": "now"}, 400, "arguments must be a JSON object"),
    ],
)
def test_bad_session_actions(api, session_id, job_id, body, status, said):
    api.put(f"sessions/{session_id}/jobs/{job_id}")
    before = api.get(f"sessions/{session_id}").json
    action, arguments = next(iter(body.items()))
    if isinstance(arguments, dict) and arguments.get("job_id") == "{job}":
        arguments = {**arguments, "job_id": job_id}
    result = api.post(f"sessions/{session_id}/action", {action: arguments})
    assert result.status_code == status and said in result.json["description"]
    assert api.get(f"sessions/{session_id}").json == before


def test_action_on_a_missing_session_is_404(api):
    result = act(api, "missing", "start", job_id="j", current_tag=0)
    assert result.status_code == 404


def test_patch_merges_schedule_and_jobs(api, session_id, job_id):
    api.put(f"sessions/{session_id}/jobs/{job_id}")
    result = api.patch(
        f"sessions/{session_id}", {"schedule": {"schedule_hour": "3"}, "description": "x"}
    )
    assert result.status_code == 200 and result.json["session_id"] == session_id
    stored = api.get(f"sessions/{session_id}").json
    assert stored["schedule"] == {"schedule_interval": "continuous", "schedule_hour": "3"}
    assert list(stored["jobs"]) == [job_id]
    assert api.patch(f"sessions/{session_id}", {"jobs": []}).status_code == 400


def test_replace_keeps_the_state_and_can_create(api, session_id, job_id):
    api.put(f"sessions/{session_id}/jobs/{job_id}")
    result = api.post(f"sessions/{session_id}", {"schedule": {}, "description": "new"})
    assert result.status_code == 201
    stored = api.get(f"sessions/{session_id}").json
    assert stored["description"] == "new" and list(stored["jobs"]) == [job_id]
    assert api.post("sessions/brand-new", {"schedule": {}}).status_code == 201
    assert api.get("sessions/brand-new").status_code == 200


class Clock:
    """The time the app is told; a test moves it on instead of sleeping."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_hold_off_ends_when_its_seconds_have_passed(settings, storage):
    import falcon.testing

    from freezer_api.app import create_app
    from tests.conftest import V2

    clock = Clock(1_800_000_000.0)
    api = V2(falcon.testing.TestClient(create_app(settings, storage, clock=clock)), "p1")
    client_id = api.register()
    job_id = api.created("jobs", make_job(client_id))
    assert api.get(f"jobs/{job_id}").json["job_schedule"]["time_created"] == 1_800_000_000
    session_id = api.created("sessions", {"schedule": {}, "hold_off": 60})
    api.put(f"sessions/{session_id}/jobs/{job_id}")
    assert act(api, session_id, "start", job_id=job_id, current_tag=0).json["result"] == "success"
    assert api.get(f"sessions/{session_id}").json["time_start"] == 1_800_000_000
    clock.now += 60
    assert act(api, session_id, "start", job_id=job_id, current_tag=1).json["result"] == "hold-off"
    clock.now += 1
    started = act(api, session_id, "start", job_id=job_id, current_tag=1).json
    assert started == {"result": "success", "session_tag": 2}
    ended = act(api, session_id, "end", job_id=job_id, current_tag=2, result="success")
    assert ended.status_code == 202
    session = api.get(f"sessions/{session_id}").json
    assert session["time_end"] == 1_800_000_061 and session["status"] == "completed"


def test_a_patch_cannot_put_another_projects_job_in_a_session(api, other_api, session_id):
    """Its start and end would answer "success" without touching that job."""
    theirs = other_api.created("jobs", make_job(other_api.register()))
    entry = {"client_id": "x", "status": "", "result": "", "time_started": -1, "time_ended": -1}
    refused = api.patch(f"sessions/{session_id}", {"jobs": {theirs: entry}})
    assert refused.status_code == 422, refused.text
    assert theirs in refused.json["description"]
    assert api.patch(f"sessions/{session_id}", {"jobs": {"no-such-job": entry}}).status_code == 422
    assert api.get(f"sessions/{session_id}").json["jobs"] == {}
    started = api.post(
        f"sessions/{session_id}/action", {"start": {"job_id": theirs, "current_tag": 0}}
    )
    assert started.status_code == 400 and "not found in session" in started.json["description"]
