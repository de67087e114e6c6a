# SPDX-License-Identifier: Apache-2.0
"""Bad input of every kind: a 4xx JSON {"title", "description"} and nothing stored."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

import pytest

from tests.conftest import make_v1_backup, user

ALICE = user("alice")


def stored(client) -> list[dict[str, Any]]:
    result = client.simulate_get("/v1/backups", query_string="limit=1000", headers=ALICE)
    return result.json["backups"]


def assert_error(result, status: int, said: str) -> None:
    assert result.status_code == status, result.text
    assert result.headers["content-type"].startswith("application/json")
    body = result.json
    assert set(body) == {"title", "description"}
    assert said in body["description"], body
    assert body["title"] == HTTPStatus(status).phrase  # one style: the reason phrase


@pytest.fixture
def existing(client) -> tuple[str, dict[str, Any]]:
    document = make_v1_backup()
    result = client.simulate_post("/v1/backups", json=document, headers=ALICE)
    return result.json["backup_id"], document


def test_the_error_body_shape_is_pinned(client):
    result = client.simulate_get("/v1/backups/missing", headers=ALICE)
    assert result.status_code == 404
    assert result.json == {"title": "Not Found", "description": "No backup found with id missing"}


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ("{not json", "Malformed JSON"),
        ('{"a": NaN}', "Malformed JSON"),
        ("[" * 100_000 + "]" * 100_000, "Malformed JSON"),
        (b"\xff\xfe", "Malformed JSON"),
        ("[1, 2]", "must be a JSON object, not array"),
        ('"text"', "must be a JSON object, not string"),
        ("null", "must be a JSON object, not null"),
    ],
)
def test_unparseable_or_non_object_bodies_are_400(client, existing, body, said):
    result = client.simulate_post("/v1/backups", body=body, headers=ALICE)
    assert_error(result, 400, said)
    assert len(stored(client)) == 1


def test_a_missing_body_is_400(client):
    assert_error(client.simulate_post("/v1/backups", headers=ALICE), 400, "JSON object is required")
    assert stored(client) == []


@pytest.mark.parametrize("field", ["container", "host_name", "backup_name", "timestamp", "level"])
def test_each_id_field_is_required(client, field):
    document = make_v1_backup()
    del document[field]
    result = client.simulate_post("/v1/backups", json=document, headers=ALICE)
    assert_error(result, 400, f"'{field}' is a required property")
    assert stored(client) == []


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("container", 5, "container: must be of type string"),
        ("container", "", "container: "),
        ("container", "a/b", "container: must not contain '/'"),
        ("host_name", ["h"], "host_name: must be of type string"),
        ("backup_name", None, "backup_name: must be of type string"),
        ("timestamp", "2015", "timestamp: must be of type integer"),
        ("timestamp", 1.5, "timestamp: must be of type integer"),
        ("timestamp", -1, "timestamp: -1 is less than the minimum of 0"),
        ("timestamp", 2**63, "timestamp: "),
        ("level", True, "level: must be of type integer"),
        ("backup_session", "1", "backup_session: must be of type integer"),
        ("max_level", 1.0 + 0.5, "max_level: must be of type integer"),
        ("mode", 1, "mode: must be of type string"),
        ("fs_real_path", {}, "fs_real_path: must be of type string"),
        ("vol_snap_path", 0, "vol_snap_path: must be of type string"),
        ("total_broken_links", "0", "total_broken_links: must be of type integer"),
        ("total_fs_files", False, "total_fs_files: must be of type integer"),
        ("total_directories", [], "total_directories: must be of type integer"),
        ("backup_size_uncompressed", "1MB", "backup_size_uncompressed: must be of type integer"),
        ("backup_size_compressed", None, "backup_size_compressed: must be of type integer"),
        ("total_backup_session_size", 2.5, "total_backup_session_size: must be of type integer"),
        ("compression_alg", False, "compression_alg: must be of type string"),
        ("encrypted", "yes", "encrypted: must be of type boolean"),
        ("encrypted", 1, "encrypted: must be of type boolean"),
        ("client_os", 3, "client_os: must be of type string"),
        ("broken_links", "a", "broken_links: must be of type array"),
        ("broken_links", ["a", 1], "broken_links.1: must be of type string"),
        ("excluded_files", [None], "excluded_files.0: must be of type string"),
        ("cli", [], "cli: must be of type string"),
        ("version", 1, "version: must be of type string"),
    ],
)
def test_every_seed_field_is_type_checked(client, field, value, said):
    result = client.simulate_post(
        "/v1/backups", json=make_v1_backup(**{field: value}), headers=ALICE
    )
    assert_error(result, 400, said)
    assert stored(client) == []


def test_an_id_longer_than_the_store_allows_is_400(client):
    document = make_v1_backup(container="c" * 200, backup_name="n" * 200)
    assert_error(
        client.simulate_post("/v1/backups", json=document, headers=ALICE), 400, "limit is 255"
    )


def test_an_oversized_body_is_413(client):
    document = make_v1_backup(excluded_files=["x" * 1000] * 2000)
    result = client.simulate_post("/v1/backups", json=document, headers=ALICE)
    assert_error(result, 413, "the limit is")
    assert stored(client) == []


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ({"timestamp": "x"}, "timestamp: must be of type integer"),
        ({}, "non-empty JSON object"),
        ({"encrypted": "no"}, "encrypted: must be of type boolean"),
    ],
)
def test_a_bad_patch_is_400_and_changes_nothing(client, existing, body, said):
    backup_id, document = existing
    result = client.simulate_patch(f"/v1/backups/{backup_id}", json=body, headers=ALICE)
    assert_error(result, 400, said)
    after = client.simulate_get(f"/v1/backups/{backup_id}", headers=ALICE)
    assert after.json["backup_metadata"] == document
    assert after.headers["etag"] == '"1"'


def test_a_bad_put_is_400_and_changes_nothing(client, existing):
    backup_id, document = existing
    result = client.simulate_put(f"/v1/backups/{backup_id}", json={"mode": "fs"}, headers=ALICE)
    assert_error(result, 400, "is a required property")
    assert (
        client.simulate_get(f"/v1/backups/{backup_id}", headers=ALICE).json["backup_metadata"]
        == document
    )


@pytest.mark.parametrize("method", ["GET", "PATCH", "PUT", "DELETE"])
def test_an_unknown_id_is_404(client, method):
    body = None if method in {"GET", "DELETE"} else json.dumps(make_v1_backup())
    result = client.simulate_request(method, "/v1/backups/nope", body=body, headers=ALICE)
    assert_error(result, 404, "No backup found with id nope")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/v1/backups", "GET, OPTIONS, POST"),
        ("PUT", "/v1/backups", "GET, OPTIONS, POST"),
        ("POST", "/v1/backups/some-id", "DELETE, GET, OPTIONS, PATCH, PUT"),
        ("HEAD", "/v1/backups", "GET, OPTIONS, POST"),
        ("POST", "/", "GET, OPTIONS"),
    ],
)
def test_an_unsupported_method_is_405_with_allow(client, method, path, allowed):
    result = client.simulate_request(method, path, headers=ALICE)
    assert result.status_code == 405
    assert sorted(result.headers["allow"].split(", ")) == allowed.split(", ")
    if method != "HEAD":
        assert_error(result, 405, f"The method {method} is not allowed on {path}")


@pytest.mark.parametrize("accept", ["text/html", "application/xml", "image/png"])
def test_an_accept_without_json_is_406(client, accept):
    result = client.simulate_post(
        "/v1/backups", json=make_v1_backup(), headers={**ALICE, "Accept": accept}
    )
    assert_error(result, 406, "answers only application/json")
    assert stored(client) == []


def test_an_unknown_route_is_404_json(client):
    assert_error(client.simulate_get("/v1/nothing-here", headers=ALICE), 404, "/v1/nothing-here")


def test_content_type_is_not_required(client):
    result = client.simulate_post(
        "/v1/backups",
        body=json.dumps(make_v1_backup()),
        headers={**ALICE, "Content-Type": "text/plain"},
    )
    assert result.status_code == 201


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("GET", "/nothing/here", {}, 404),
        ("PUT", "/v2/p/backups", {}, 405),
        ("GET", "/v2/p/backups", {"Accept": "text/html"}, 406),
        ("GET", "/v2/project-a/backups/missing", {}, 404),
        ("GET", "/v2/project-a/backups?time_afer=1", {}, 400),
        ("GET", "/v2/p/backups", {}, 403),
    ],
)
def test_every_error_title_is_the_reason_phrase_of_its_status(
    client, method, path, headers, status
):
    path, _, query = path.partition("?")
    result = client.simulate_request(method, path, query_string=query, headers={**ALICE, **headers})
    assert result.status_code == status
    assert result.json["title"] == HTTPStatus(status).phrase
