# SPDX-License-Identifier: Apache-2.0
"""GET / (versions, built per request) and GET /v1 (JSON home)."""

from __future__ import annotations

import json


def test_versions_answer_300_with_links_from_the_request_url(client):
    first = client.simulate_get("/", host="api.example.org")
    second = client.simulate_get("/", host="other.example.net", protocol="https")
    assert first.status_code == 300
    versions = {version["id"]: version for version in first.json["versions"]}
    assert versions["v2"]["status"] == "CURRENT"
    assert versions["v1"]["status"] == "SUPPORTED"
    assert versions["v1"]["links"] == [{"href": "http://api.example.org/v1/", "rel": "self"}]
    assert versions["v2"]["links"] == [{"href": "http://api.example.org/v2/", "rel": "self"}]
    # NOTE: the old server formatted the first caller's host into a shared dict.
    hrefs = {version["links"][0]["href"] for version in second.json["versions"]}
    assert hrefs == {"https://other.example.net/v1/", "https://other.example.net/v2/"}


def test_versions_need_no_identity_and_carry_a_request_id(client):
    result = client.simulate_get("/")
    assert result.status_code == 300
    assert result.headers["x-openstack-request-id"].startswith("req-")


def test_json_home_lists_the_backups_routes(client):
    for accept in ("application/json", "application/json-home", "*/*"):
        result = client.simulate_get("/v1", headers={"Accept": accept})
        assert result.status_code == 200
        assert result.headers["content-type"] == "application/json-home"
    resources = json.loads(result.text)["resources"]
    assert resources["rel/backups"] == {
        "href-template": "/v1/backups/{backup_id}",
        "href-vars": {"backup_id": "param/backup_id"},
        "hints": {
            "allow": ["DELETE", "GET", "PATCH", "PUT"],
            "formats": {"application/json": {}},
        },
    }
    assert resources["rel/backups_collection"]["hints"]["allow"] == ["GET", "POST"]
    assert client.simulate_get("/v1/").status_code == 200


def test_v2_json_home_has_the_exact_backups_entry_and_every_resource(client):
    result = client.simulate_get("/v2")
    assert result.status_code == 200
    assert result.headers["content-type"] == "application/json-home"
    resources = json.loads(result.text)["resources"]
    assert resources["rel/backups"] == {
        "href-template": "/v2/{project_id}/backups/{backup_id}",
        "href-vars": {"project_id": "param/project_id", "backup_id": "param/backup_id"},
        "hints": {"allow": ["GET"], "formats": {"application/json": {}}},
    }
    for plural in ("clients", "jobs", "actions", "sessions"):
        assert resources[f"rel/{plural}"]["href-template"].startswith(
            f"/v2/{{project_id}}/{plural}/"
        )
        assert "GET" in resources[f"rel/{plural}_collection"]["hints"]["allow"]
