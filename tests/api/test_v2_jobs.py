# SPDX-License-Identifier: Apache-2.0
"""v2 jobs: client and capability checks, atomic creation, PATCH, replace, events."""

from __future__ import annotations

import pytest

from tests.conftest import make_action, make_job


@pytest.fixture
def client_id(api) -> str:
    return api.register()


def test_create_resolves_actions_and_fills_the_schedule(api, client_id):
    job = make_job(
        client_id,
        job_actions=[
            {"freezer_action": {"action": "backup"}, "mandatory": True, "note": "kept"},
            {"freezer_action": make_action(action="info", mode=None)},
        ],
        action_defaults={"mode": "fs", "path_to_backup": "/srv", "backup_name": "srv"},
    )
    job_id = api.created("jobs", job)
    stored = api.get(f"jobs/{job_id}").json
    assert set(stored) == {
        "job_id",
        "project_id",
        "user_id",
        "client_id",
        "session_id",
        "session_tag",
        "description",
        "job_schedule",
        "job_actions",
    }
    schedule = stored["job_schedule"]
    assert schedule["schedule_interval"] == "1 days"
    assert schedule["time_started"] == schedule["time_ended"] == -1 and schedule["time_created"] > 0
    first, second = stored["job_actions"]
    assert first["mandatory"] is True and first["note"] == "kept"
    assert first["freezer_action"]["path_to_backup"] == "/srv"
    assert second["freezer_action"]["mode"] == "fs"  # a null is filled by action_defaults
    actions = {a["action_id"] for a in api.listed("actions")}
    assert actions == {first["action_id"], second["action_id"]}


def test_an_existing_action_can_be_referenced(api, client_id):
    action_id = api.created("actions", {"freezer_action": make_action()})
    job_id = api.created("jobs", make_job(client_id, job_actions=[{"action_id": action_id}]))
    assert api.get(f"jobs/{job_id}").json["job_actions"][0]["action_id"] == action_id
    different = {"action_id": action_id, "freezer_action": make_action(mode="mysql")}
    result = api.post("jobs", make_job(client_id, job_actions=[different]))
    assert result.status_code == 422 and "different definition" in result.json["description"]


def test_action_updates_show_in_the_job(api, client_id):
    job_id = api.created("jobs", make_job(client_id))
    action_id = api.get(f"jobs/{job_id}").json["job_actions"][0]["action_id"]
    api.patch(f"actions/{action_id}", {"freezer_action": {"path_to_backup": "/var"}})
    assert (
        api.get(f"jobs/{job_id}").json["job_actions"][0]["freezer_action"]["path_to_backup"]
        == "/var"
    )


@pytest.mark.parametrize(
    ("change", "status", "said"),
    [
        ({"client_id": "bad%project$id_host.domain.tld"}, 400, "client_id: "),
        ({"client_id": "project_bad_hostname.bad/domain.b"}, 400, "client_id: "),
        ({"client_id": "unknown.example.org"}, 422, "Client not found with ID unknown.example.org"),
        ({"job_actions": {"freezer_action": {}}}, 400, "job_actions: must be of type array"),
        (
            {"job_actions": [{"freezer_action": make_action(action="fly")}]},
            400,
            "'fly' is not one of",
        ),
        (
            {"job_actions": [{"freezer_action": make_action(mode="mysql")}]},
            422,
            "does not support mode: mysql",
        ),
        ({"job_actions": [{"action_id": "nope"}]}, 422, "Action id: nope not found"),
        ({"job_actions": [{}]}, 400, "job_actions.0: "),
        ({"job_schedule": {"status": "sleeping"}}, 400, "job_schedule.status: 'sleeping'"),
        ({"job_schedule": {"schedule_interval": "often"}}, 400, "job_schedule.schedule_interval"),
        ({"job_schedule": {"colour": "red"}}, 400, "Additional properties are not allowed"),
        ({"surprise": 1}, 400, "Additional properties are not allowed"),
        ({"action_defaults": []}, 400, "action_defaults: must be of type object"),
        ({"job_id": "has space"}, 400, "job_id: "),
    ],
)
def test_rejected_jobs_leave_nothing_behind(api, change, status, said):
    api.register(supported_modes=["fs"])
    job = make_job(f"{api.project}_host1.example.org")
    job["job_actions"].append({"freezer_action": make_action(backup_name="second")})
    job.update(change)
    result = api.post("jobs", job)
    assert result.status_code == status, result.text
    assert said in result.json["description"]
    assert api.listed("jobs") == []
    assert api.listed("actions") == []


def test_an_fqdn_only_client_id_is_accepted(api):
    client_id = api.register("host.domain.tld")
    assert api.post("jobs", make_job(client_id)).status_code == 201


def test_job_ids_are_unique_across_projects(api, other_api, client_id):
    api.created("jobs", make_job(client_id, job_id="shared"))
    other_client = other_api.register()
    result = other_api.post("jobs", make_job(other_client, job_id="shared"))
    assert result.status_code == 409
    assert other_api.get("jobs/shared").status_code == 404


def test_server_owned_fields_are_ignored(api, client_id):
    job = make_job(client_id, user_id="mallory", project_id="elsewhere")
    job["user_credentials"] = {"trust_id": "stolen", "trustor_user_id": "victim"}
    job_id = api.created("jobs", job)
    stored = api.get(f"jobs/{job_id}").json
    assert "user_credentials" not in stored
    assert (stored["user_id"], stored["project_id"]) == ("u1", "project-a")


def test_patch_changes_only_what_it_is_given(api, client_id):
    job_id = api.created("jobs", make_job(client_id))
    before = api.get(f"jobs/{job_id}").json
    result = api.patch(f"jobs/{job_id}", {"job_schedule": {"status": "running"}, "user_id": "x"})
    assert result.status_code == 200 and result.json == {"job_id": job_id, "version": 2}
    after = api.get(f"jobs/{job_id}").json
    assert after["job_schedule"] == {**before["job_schedule"], "status": "running"}
    assert after["job_actions"] == before["job_actions"]
    assert after["user_id"] == "u1"


def test_patch_by_another_user_keeps_the_owner(api, client, client_id):
    from tests.conftest import V2

    job_id = api.created("jobs", make_job(client_id))
    colleague = V2(client, api.project, user_id="u9")
    assert colleague.patch(f"jobs/{job_id}", {"description": "x"}).status_code == 200
    assert api.get(f"jobs/{job_id}").json["user_id"] == "u1"


def test_if_match_makes_patch_conditional(api, client_id):
    job_id = api.created("jobs", make_job(client_id))
    etag = api.get(f"jobs/{job_id}").headers["etag"]
    ok = api.patch(f"jobs/{job_id}", {"description": "a"}, headers={"If-Match": etag})
    assert ok.status_code == 200
    stale = api.patch(f"jobs/{job_id}", {"description": "b"}, headers={"If-Match": etag})
    assert stale.status_code == 412
    assert api.get(f"jobs/{job_id}").json["description"] == "a"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"job_actions": []}, 200),
        ({"job_actions": [{"action_id": "missing"}]}, 422),
        ({"job_schedule": {"event": "explode"}}, 400),
        ({"client_id": "unregistered.example.org"}, 422),
        ({}, 400),
    ],
)
def test_patch_validates(api, client_id, body, status):
    job_id = api.created("jobs", make_job(client_id))
    before = api.get(f"jobs/{job_id}").json
    assert api.patch(f"jobs/{job_id}", body).status_code == status
    if status != 200:
        assert api.get(f"jobs/{job_id}").json == before


def test_post_to_an_item_creates_or_replaces(api, client_id):
    created = api.post("jobs/mine", make_job(client_id))
    assert created.status_code == 201 and created.json == {"job_id": "mine", "version": 1}
    time_created = api.get("jobs/mine").json["job_schedule"].get("time_created")
    replaced = api.post("jobs/mine", make_job(client_id, description="replaced"))
    assert replaced.status_code == 201 and replaced.json == {"job_id": "mine", "version": 2}
    stored = api.get("jobs/mine").json
    assert stored["description"] == "replaced"
    assert stored["job_schedule"].get("time_created") == time_created
    assert api.put("jobs/mine", make_job(client_id)).status_code == 405


def test_events(api, client_id):
    job_id = api.created("jobs", make_job(client_id))
    api.patch(f"jobs/{job_id}", {"job_schedule": {"status": "completed", "result": "fail"}})
    assert api.post(f"jobs/{job_id}/event", {"start": None}).json == {"result": "success"}
    schedule = api.get(f"jobs/{job_id}").json["job_schedule"]
    assert (schedule["event"], schedule["status"], schedule["result"]) == ("start", "", "")
    again = api.post(f"jobs/{job_id}/event", {"start": None})
    assert again.status_code == 202 and again.json == {"result": "start already requested"}
    assert api.post(f"jobs/{job_id}/event", {"stop": None, "start": None}).json == {
        "result": "success"
    }
    assert api.get(f"jobs/{job_id}").json["job_schedule"]["event"] == "stop"


@pytest.mark.parametrize(
    ("path", "body", "status", "said"),
    [
        ("jobs/missing/event", {"start": None}, 404, "No job found with id missing"),
        ("jobs/{job}/event", {"launch": None}, 400, "Unknown job event 'launch'"),
        ("jobs/{job}/event", {}, 400, "A job event must be a JSON object"),
        ("jobs/{job}/event", [], 400, "must be a JSON object"),
    ],
)
def test_bad_events(api, client_id, path, body, status, said):
    job_id = api.created("jobs", make_job(client_id))
    before = api.get(f"jobs/{job_id}").json
    result = api.post(path.format(job=job_id), body)
    assert result.status_code == status and said in result.json["description"]
    assert api.get(f"jobs/{job_id}").json == before


def test_the_scheduler_poll(api, client_id):
    other = api.register(f"{api.project}_other.example.org")
    mine = [api.created("jobs", make_job(client_id)) for _ in range(3)]
    api.created("jobs", make_job(other))
    api.patch(f"jobs/{mine[0]}", {"job_schedule": {"status": "completed"}})
    poll = {"match_not": [{"status": "completed"}], "match": [{"client_id": client_id}]}
    assert [
        job["job_id"] for job in api.listed("jobs", poll, "limit=10&all_projects=False")
    ] == mine[1:]
    bad = api.get("jobs", poll, query_string="all_projects=maybe")
    assert bad.status_code == 400


def test_delete_then_recreate_the_same_id(api, client_id):
    api.created("jobs", make_job(client_id, job_id="again"))
    assert api.delete("jobs/again").status_code == 204
    assert api.delete("jobs/again").status_code == 404
    assert api.created("jobs", make_job(client_id, job_id="again")) == "again"
