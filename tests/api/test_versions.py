# SPDX-License-Identifier: Apache-2.0
"""GET / (versions, built per request) and GET /v1 (JSON home)."""

from __future__ import annotations

import json


def test_versions_answer_300_with_links_from_the_request_url(client):
    first = client.simulate_get("/", host="api.example.org")
    second = client.simulate_get("/", host="other.example.net", protocol="https")
    assert first.status_code == 300
    assert first.json["versions"][0]["id"] == "v1"
    assert first.json["versions"][0]["links"] == [
        {"href": "http://api.example.org/v1/", "rel": "self"}
    ]
    # NOTE: the old server formatted the first caller's host into a shared dict.
    assert second.json["versions"][0]["links"][0]["href"] == "https://other.example.net/v1/"


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
