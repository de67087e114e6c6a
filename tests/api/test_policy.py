# SPDX-License-Identifier: Apache-2.0
"""Policy on every route: readers read, members write their project, others are refused."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import V2, make_action, make_backup, make_job


def caller(client, project: str, roles: str, user_id: str = "u1") -> V2:
    api = V2(client, project, user_id=user_id)
    api.headers["X-Roles"] = roles
    return api


@pytest.fixture
def world(client):
    """Project a with one of everything, created by a member."""
    member = caller(client, "a", "member")
    client_id = member.register("a_host.example.org")
    job_id = member.created("jobs", make_job(client_id))
    ids = {
        "backup": member.created("backups", make_backup()),
        "client": client_id,
        "job": job_id,
        "action": member.created("actions", {"freezer_action": make_action()}),
        "session": member.created("sessions", {"schedule": {}}),
    }
    member.put(f"sessions/{ids['session']}/jobs/{job_id}")
    return ids


READS: list[tuple[str, str, Any]] = [
    ("GET", "backups", None),
    ("GET", "backups/{backup}", None),
    ("GET", "clients", None),
    ("GET", "clients/{client}", None),
    ("GET", "jobs", None),
    ("GET", "jobs/{job}", None),
    ("GET", "actions", None),
    ("GET", "actions/{action}", None),
    ("GET", "sessions", None),
    ("GET", "sessions/{session}", None),
]
WRITES: list[tuple[str, str, Any]] = [
    ("POST", "backups", make_backup()),
    ("PATCH", "backups/{backup}", {"status": "error"}),
    ("DELETE", "backups/{backup}", None),
    ("POST", "clients", {"client_id": "a_other.example.org"}),
    ("DELETE", "clients/{client}", None),
    ("POST", "jobs", make_job("a_host.example.org")),
    ("PATCH", "jobs/{job}", {"description": "x"}),
    ("POST", "jobs/{job}", make_job("a_host.example.org")),
    ("DELETE", "jobs/{job}", None),
    ("POST", "jobs/{job}/event", {"start": None}),
    ("POST", "actions", {"freezer_action": make_action()}),
    ("PATCH", "actions/{action}", {"max_retries": 1}),
    ("POST", "actions/{action}", {"freezer_action": make_action()}),
    ("DELETE", "actions/{action}", None),
    ("POST", "sessions", {"schedule": {}}),
    ("PATCH", "sessions/{session}", {"description": "x"}),
    ("POST", "sessions/{session}", {"schedule": {}}),
    ("DELETE", "sessions/{session}", None),
    ("POST", "sessions/{session}/action", {"start": {"job_id": "{job}", "current_tag": 0}}),
    ("PUT", "sessions/{session}/jobs/{job}", None),
    ("DELETE", "sessions/{session}/jobs/{job}", None),
]


def send(api: V2, method: str, path: str, body, ids: dict[str, str]):
    if isinstance(body, dict) and "start" in body and isinstance(body["start"], dict):
        body = {"start": {**body["start"], "job_id": ids["job"]}}
    return api.request(method, path.format(**ids), body)


@pytest.mark.parametrize(("method", "path", "body"), READS)
def test_a_reader_reads(client, world, method, path, body):
    assert send(caller(client, "a", "reader"), method, path, body, world).status_code == 200


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_a_reader_cannot_write(client, world, method, path, body):
    result = send(caller(client, "a", "reader"), method, path, body, world)
    assert result.status_code == 403, result.text
    assert result.json["title"] == "Forbidden"


@pytest.mark.parametrize(("method", "path", "body"), READS + WRITES)
def test_another_projects_url_is_403(client, world, method, path, body):
    outsider = caller(client, "b", "member")
    outsider.project = "a"  # their token is for b, the URL names a
    result = send(outsider, method, path, body, world)
    assert result.status_code == 403, result.text


ITEMS = [route for route in READS + WRITES if "{" in route[1]]


@pytest.mark.parametrize(("method", "path", "body"), ITEMS)
def test_another_projects_object_through_ones_own_url_is_404(client, world, method, path, body):
    result = send(caller(client, "b", "member"), method, path, body, world)
    assert result.status_code == 404, result.text


@pytest.mark.parametrize(("method", "path", "body"), READS + WRITES)
def test_an_admin_may_use_any_projects_url(client, world, method, path, body):
    admin = caller(client, "a", "admin")
    admin.headers["X-Project-Id"] = "admin-project"
    assert send(admin, method, path, body, world).status_code < 400


def test_no_roles_no_access(client, world):
    nobody = caller(client, "a", "")
    assert nobody.get("backups").status_code == 403


def test_only_admin_or_service_registers_a_central_client(client):
    central = {"client_id": "central.example.org", "is_central": True}
    assert caller(client, "a", "member").post("clients", central).status_code == 403
    assert caller(client, "a", "admin").post("clients", central).status_code == 201
    # every project sees the central scheduler
    listed = caller(client, "b", "reader").listed("clients")
    assert [c["client"]["client_id"] for c in listed] == ["central.example.org"]
    assert caller(client, "b", "reader").get("clients/central.example.org").status_code == 200
    assert caller(client, "b", "member").delete("clients/central.example.org").status_code == 404
    clash = caller(client, "b", "member").post("clients", {"client_id": "central.example.org"})
    assert clash.status_code == 409


def test_all_projects_needs_admin_or_service(client, world):
    member = caller(client, "a", "member")
    assert member.get("jobs", query_string="all_projects=true").status_code == 403
    caller(client, "c", "member").created(
        "jobs", make_job(caller(client, "c", "member").register("c_host.example.org"))
    )
    service = caller(client, "a", "service")
    everything = service.listed("jobs", query="all_projects=true")
    assert {job["project_id"] for job in everything} == {"a", "c"}
    assert {job["project_id"] for job in service.listed("jobs")} == {"a"}


def test_v1_uses_the_callers_own_project(client):
    reader = caller(client, "a", "reader")
    reader.url = lambda path: f"/v1/{path}"  # type: ignore[method-assign]
    assert reader.get("jobs").status_code == 200
    assert reader.post("sessions", {"schedule": {}}).status_code == 403


def test_a_central_schedulers_pid_is_hidden_from_tenants(client):
    admin = caller(client, "ops", "admin")
    admin.created("clients", {"client_id": "central.example.org", "is_central": True})
    member = caller(client, "a", "member")
    job_id = member.created("jobs", make_job("central.example.org"))
    own_client = member.register("a_own.example.org")
    own_job = member.created("jobs", make_job(own_client))
    for job in (job_id, own_job):
        member.patch(f"jobs/{job}", {"job_schedule": {"current_pid": 4242}})
    assert "current_pid" not in member.get(f"jobs/{job_id}").json["job_schedule"]
    listed = {job["job_id"]: job["job_schedule"] for job in member.listed("jobs")}
    assert "current_pid" not in listed[job_id]
    assert listed[own_job]["current_pid"] == 4242
    service = caller(client, "a", "service")
    assert service.get(f"jobs/{job_id}").json["job_schedule"]["current_pid"] == 4242


SERVICE_REACH = [
    ("GET", "backups", None),
    ("GET", "backups/{backup}", None),
    ("POST", "backups", make_backup()),
    ("PATCH", "backups/{backup}", {"status": "error"}),
    ("DELETE", "backups/{backup}", None),
    ("GET", "clients", None),
    ("GET", "actions/{action}", None),
    ("GET", "sessions/{session}", None),
]


@pytest.mark.parametrize(("method", "path", "body"), SERVICE_REACH)
def test_the_service_role_gets_no_other_projects_backups_by_default(
    client, world, method, path, body
):
    """A central scheduler does its work in a project through the owner's trust; its own
    token (role service, its own project) reaches no other project's backups or records."""
    service = caller(client, "a", "service")
    service.headers["X-Project-Id"] = "service-project"
    assert send(service, method, path, body, world).status_code == 403


def test_the_service_role_lists_and_reads_every_projects_jobs(client, world):
    """What the freezer 19.0.0 central scheduler does with its own token."""
    service = caller(client, "service-project", "service")
    polled = service.listed("jobs", query="all_projects=true")
    assert world["job"] in {job["job_id"] for job in polled}
    central = {"client_id": "central.example.org", "is_central": True}
    assert (
        caller(client, "service-project", "service,member").post("clients", central).status_code
        == 201
    )
    as_a = caller(client, "a", "service")
    as_a.headers["X-Project-Id"] = "service-project"
    assert as_a.get(f"jobs/{world['job']}").status_code == 200


def test_two_policy_lines_give_the_service_role_its_19_0_0_reach(tmp_path, storage):
    from tests.api.test_middleware import app_with

    policy = tmp_path / "policy.yaml"
    policy.write_text(
        '"catalogue_reader": "rule:admin_or_reader_or_service"\n'
        '"backup_writer": "rule:admin_or_owner_or_service"\n'
    )
    api = app_with(tmp_path, storage, f"[oslo_policy]\npolicy_file = {policy}\n")
    member = {"X-Roles": "member", "X-Project-Id": "a", "X-User-Id": "owner"}
    service = {"X-Roles": "service", "X-Project-Id": "service-project", "X-User-Id": "svc"}
    created = api.simulate_post("/v2/a/backups", json=make_backup(), headers=member)
    assert created.status_code == 201
    listed = api.simulate_get("/v2/a/backups", headers=service)
    assert listed.status_code == 200 and len(listed.json["backups"]) == 1
    assert (
        api.simulate_post("/v2/a/backups", json=make_backup(), headers=service).status_code == 201
    )
    assert api.simulate_get("/v2/a/sessions", headers=service).status_code == 200
