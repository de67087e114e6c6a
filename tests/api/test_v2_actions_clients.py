# SPDX-License-Identifier: Apache-2.0
"""v2 actions and clients, and the later v1 resources scoped by user."""

from __future__ import annotations

import pytest

from tests.conftest import V2, make_action, make_job


def test_action_shape_and_defaults(api):
    action_id = api.created(
        "actions", {"freezer_action": make_action(extra="kept"), "mandatory": True}
    )
    stored = api.get(f"actions/{action_id}").json
    assert stored["max_retries"] == 5 and stored["max_retries_interval"] == 6
    assert stored["mandatory"] is True
    assert stored["freezer_action"]["extra"] == "kept"
    assert stored["freezer_action"]["log_file"] is None
    assert api.listed("actions") == [stored]


@pytest.mark.parametrize(
    ("body", "status", "said"),
    [
        ({"max_retries": 1}, 400, "'freezer_action' is a required property"),
        ({"freezer_action": make_action(action="fly")}, 400, "'fly' is not one of"),
        ({"freezer_action": make_action(mode="tape")}, 400, "'tape' is not one of"),
        ({"freezer_action": "backup"}, 400, "freezer_action: must be of type object"),
        (
            {"freezer_action": make_action(), "max_retries": "3"},
            400,
            "max_retries: must be of type integer",
        ),
        ({"freezer_action": make_action(), "action_id": "a b"}, 400, "action_id: "),
    ],
)
def test_invalid_actions(api, body, status, said):
    result = api.post("actions", body)
    assert result.status_code == status and said in result.json["description"]
    assert api.listed("actions") == []


def test_action_ids_are_unique_everywhere(api, other_api):
    api.created("actions", {"freezer_action": make_action(), "action_id": "shared"})
    assert (
        api.post("actions", {"freezer_action": make_action(), "action_id": "shared"}).status_code
        == 409
    )
    assert (
        other_api.post(
            "actions", {"freezer_action": make_action(), "action_id": "shared"}
        ).status_code
        == 409
    )
    # NOTE: through its own URL, another project's action looks like it does not exist.
    assert other_api.post("actions/shared", {"freezer_action": make_action()}).status_code == 404


def test_action_patch_keeps_what_is_not_given(api):
    action_id = api.created("actions", {"freezer_action": make_action(), "max_retries": 2})
    result = api.patch(f"actions/{action_id}", {"freezer_action": {"mode": "mysql"}})
    assert result.json == {"action_id": action_id, "version": 2}
    stored = api.get(f"actions/{action_id}").json
    assert stored["max_retries"] == 2 and stored["freezer_action"]["path_to_backup"] == "/etc"
    assert api.patch(f"actions/{action_id}", {"freezer_action": {"mode": "x"}}).status_code == 400
    assert api.patch("actions/missing", {"max_retries": 1}).status_code == 404


def test_client_shape_and_reregistration(api):
    client_id = api.register(description="first", supported_modes=["fs"])
    stored = api.get(f"clients/{client_id}").json
    assert set(stored) == {"project_id", "user_id", "client"}
    assert stored["client"]["supported_modes"] == ["fs"]
    assert stored["client"]["supported_engines"][0] == "tar"
    uuid = stored["client"]["uuid"]
    again = api.post("clients", {"client_id": client_id, "description": "second"})
    assert again.status_code == 201
    stored = api.get(f"clients/{client_id}").json["client"]
    assert stored["description"] == "second" and stored["uuid"] == uuid
    assert len(api.listed("clients")) == 1


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ({"hostname": "h"}, "'client_id' is a required property"),
        ({"client_id": "bad%id"}, "client_id: "),
        ({"client_id": "with/slash"}, "client_id: "),
        ({"client_id": "with space"}, "client_id: "),
        ({"client_id": "trailing.dot."}, "client_id: "),
        ({"client_id": "ok.example.org", "hostname": ""}, "hostname: "),
        ({"client_id": "ok.example.org", "hostname": 7}, "hostname: must be of type string"),
        ({"client_id": "ok.example.org", "supported_modes": ["tape"]}, "'tape' is not one of"),
        (
            {"client_id": "ok.example.org", "is_central": "yes"},
            "is_central: must be of type boolean",
        ),
    ],
)
def test_invalid_clients(api, body, said):
    result = api.post("clients", body)
    assert result.status_code == 400 and said in result.json["description"]
    assert api.listed("clients") == []


def test_clients_have_no_patch_and_delete_is_404_when_missing(api):
    client_id = api.register()
    assert api.patch(f"clients/{client_id}", {"description": "x"}).status_code == 405
    assert api.delete(f"clients/{client_id}").status_code == 204
    assert api.delete(f"clients/{client_id}").status_code == 404


def test_unknown_v2_routes(api):
    assert api.client.simulate_get("/v2/project-a").status_code == 404
    assert api.get("widgets").status_code == 404
    assert api.post("sessions/s/actions", {}).status_code == 404


# -- the later v1 resources: scoped by user ------------------------------------------------


def v1(client, user_id: str, project: str = "project-a") -> V2:
    caller = V2(client, project, user_id=user_id)
    caller.url = lambda path: f"/v1/{path}"  # type: ignore[method-assign]
    return caller


def test_v1_resources_are_scoped_by_user(client):
    alice, bob = v1(client, "alice"), v1(client, "bob")
    client_id = alice.register("alice-host.example.org")
    job_id = alice.created("jobs", make_job(client_id))
    action_id = alice.created("actions", {"freezer_action": make_action()})
    session_id = alice.created("sessions", {"schedule": {}})
    for path in (
        f"clients/{client_id}",
        f"jobs/{job_id}",
        f"actions/{action_id}",
        f"sessions/{session_id}",
    ):
        assert alice.get(path).status_code == 200
        assert bob.get(path).status_code == 404
    assert bob.listed("jobs") == [] and len(alice.listed("jobs")) == 1
    assert alice.put(f"sessions/{session_id}/jobs/{job_id}").status_code == 204
    assert alice.post(f"jobs/{job_id}/event", {"start": None}).status_code == 202
    assert bob.post(f"jobs/{job_id}/event", {"start": None}).status_code == 404


def test_v1_client_reregistration_is_409(client):
    alice = v1(client, "alice")
    alice.register("alice-host.example.org")
    assert alice.post("clients", {"client_id": "alice-host.example.org"}).status_code == 409


@pytest.mark.parametrize("plural", ["jobs", "actions", "sessions"])
def test_ids_chosen_in_the_url_are_checked(api, plural):
    bodies = {
        "jobs": make_job(api.register()),
        "actions": {"freezer_action": make_action()},
        "sessions": {"schedule": {}},
    }
    longest = "x" * 255
    assert api.post(f"{plural}/{longest}", bodies[plural]).status_code == 201
    assert api.get(f"{plural}/{longest}").status_code == 200
    too_long = api.post(f"{plural}/{'y' * 256}", bodies[plural])
    assert too_long.status_code == 400, too_long.text
    assert api.post(f"{plural}/bad%20id", bodies[plural]).status_code == 400


def test_long_but_valid_names_are_stored_on_every_engine(api):
    client_id = api.register("p" * 150 + "_" + "h" * 60 + ".example.org")
    assert api.get(f"clients/{client_id}").status_code == 200
    backup = {"backup_name": "n" * 255, "container": "c" * 255, "hostname": "h" * 255}
    backup_id = api.created("backups", backup)
    assert api.get(f"backups/{backup_id}").json["backup_metadata"] == backup
    session_id = api.created("sessions", {"schedule": {}})
    assert api.patch(f"sessions/{session_id}", {"status": "s" * 100}).status_code == 200


@pytest.mark.parametrize(
    ("client_id", "hostname"),
    [
        # what socket.gethostname() answers on real hosts, which freezer-api 19.0.0 accepts
        ("test-hostname_19544", "test-hostname_19544"),
        ("project-a_test-hostname_19544", "test-hostname_19544"),
        ("p_host_1.example_zone.org", "Host 1 (rack 7)"),
    ],
)
def test_real_host_names_register(api, client_id, hostname):
    assert api.created("clients", {"client_id": client_id, "hostname": hostname}) == client_id
    client = api.get(f"clients/{client_id}").json["client"]
    assert (client["client_id"], client["hostname"]) == (client_id, hostname)
    job_id = api.created("jobs", make_job(client_id))
    assert api.listed("jobs", {"match": [{"client_id": client_id}]})[0]["job_id"] == job_id
