# SPDX-License-Identifier: Apache-2.0
"""Bad input of every kind: a 4xx JSON {"title", "description"} and nothing stored."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

import pytest

from tests.conftest import make_backup, make_v1_backup, user

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
        (b"\xff\xfe", "must be JSON in UTF-8"),
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


def _v2(client, method: str, path: str, body: bytes, **headers: str):
    return client.simulate_request(
        method, f"/v2/project-a/{path}", body=body, headers={**ALICE, **headers}
    )


def _v2_backups(client) -> list[dict[str, Any]]:
    return client.simulate_get("/v2/project-a/backups", headers=ALICE).json["backups"]


def _backup_with(name: str) -> str:
    """A valid v2 backup whose backup_name is ``name`` (escaped as JSON writes it)."""
    return json.dumps(make_backup(backup_name=name))


def _backup_with_raw(raw: bytes) -> bytes:
    """A valid v2 backup whose backup_name holds ``raw`` bytes as they are."""
    return _backup_with("MARK").encode().replace(b"MARK", raw)


HOSTILE_BODIES = {
    # U+0000 and a lone surrogate, escaped in UTF-16 and UTF-32: json.loads reads them all
    "UTF-16 with NUL": _backup_with("a\u0000b").encode("utf-16"),
    "UTF-16-LE with NUL": _backup_with("a\u0000b").encode("utf-16-le"),
    "UTF-32 with a surrogate": _backup_with("\ud800").encode("utf-32"),
    "UTF-32-BE with NUL": _backup_with("\u0000").encode("utf-32-be"),
    # a surrogate as raw UTF-8 bytes, not as an escape
    "raw surrogate in a value": _backup_with_raw(b"a\xed\xa0\x80b"),
    "raw surrogate in a key": _backup_with_raw(b"b").replace(b'"hostname"', b'"h\xed\xb0\x80"'),
    "a UTF-8 BOM": b"\xef\xbb\xbf" + _backup_with("b").encode(),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_BODIES))
def test_bodies_that_are_not_utf_8_json_are_400_and_store_nothing(client, name):
    body = HOSTILE_BODIES[name]
    for method, path in (("POST", "backups"), ("GET", "backups"), ("POST", "jobs")):
        result = _v2(client, method, path, body)
        assert result.status_code == 400, (method, path, result.text)
        assert result.json["title"] == "Bad Request"
    assert _v2_backups(client) == []
    # and the kind is still searchable (PostgreSQL answered 500 to every search once a NUL
    # had been stored)
    assert _v2(client, "GET", "backups", b'{"match": [{"backup_name": "b"}]}').status_code == 200


def test_a_deep_body_is_400_on_every_engine_and_one_within_the_limit_is_kept(client):
    deepest: dict[str, Any] = {"level": 20}
    for level in range(19, 1, -1):
        deepest = {"level": level, "inner": deepest}
    body = {**make_backup(), "nested": deepest}  # the body is level 1
    created = client.simulate_post("/v2/project-a/backups", json=body, headers=ALICE)
    assert created.status_code == 201, created.text
    read = client.simulate_get(f"/v2/project-a/backups/{created.json['backup_id']}", headers=ALICE)
    assert read.json["backup_metadata"]["nested"] == deepest
    too_deep = {**make_backup(), "nested": [deepest]}
    refused = client.simulate_post("/v2/project-a/backups", json=too_deep, headers=ALICE)
    assert_error(refused, 400, "more than 20 levels deep")
    # deep enough to exhaust a recursive scan, with an escape that sends it scanning
    hostile = b"[" * 330 + b'"\\u0000"' + b"]" * 330
    for method in ("POST", "GET"):
        assert _v2(client, method, "backups", hostile).status_code == 400
    assert len(_v2_backups(client)) == 1


def test_numbers_beyond_a_double_are_400_and_big_integers_are_kept(client):
    for text in ("1e400", "-1e400", "1.5e309"):
        body = _backup_with("b").replace('"container"', f'"size": {text}, "container"')
        assert_error(_v2(client, "POST", "backups", body.encode()), 400, "beyond a double")
    kept = _backup_with("b").replace(
        '"container"', '"size": 1.5e300, "big": 1234567890123456789012345678901, "container"'
    )
    created = _v2(client, "POST", "backups", kept.encode())
    assert created.status_code == 201, created.text
    read = client.simulate_get(f"/v2/project-a/backups/{created.json['backup_id']}", headers=ALICE)
    metadata = read.json["backup_metadata"]
    assert metadata["size"] == 1.5e300 and metadata["big"] == 1234567890123456789012345678901
    assert len(_v2_backups(client)) == 1


@pytest.mark.parametrize(
    ("path", "headers", "said"),
    [
        ("/v2/" + "p" * 256 + "/backups", {"X-User-Id": "alice"}, "project id is 256"),
        ("/v2/project-a/backups", {"X-User-Id": "u" * 256, "X-Project-Id": "project-a"}, "user id"),
        ("/v1/backups", {"X-User-Id": "alice", "X-User-Name": "n" * 300}, "user name is 300"),
        ("/v1/backups", {"X-User-Id": "alice", "X-Project-Id": "q" * 256}, "project id"),
    ],
)
def test_an_identity_longer_than_the_catalogue_keeps_is_400(client, path, headers, said):
    for method in ("GET", "POST"):
        body = json.dumps(make_v1_backup() if path.startswith("/v1") else make_backup())
        result = client.simulate_request(method, path, body=body, headers=headers)
        assert_error(result, 400, said)
    assert stored(client) == []


def test_ids_and_names_compare_exactly_on_every_engine(client):
    """MariaDB's default collations pad: 'etc' = 'etc ' (migration 0004 ends that)."""
    plain = client.simulate_post(
        "/v2/project-a/backups", json=make_backup(backup_name="etc"), headers=ALICE
    ).json["backup_id"]
    spaced = client.simulate_post(
        "/v2/project-a/backups", json=make_backup(backup_name="etc "), headers=ALICE
    ).json["backup_id"]
    found = client.simulate_get(
        "/v2/project-a/backups", query_string="backup_name=etc", headers=ALICE
    ).json["backups"]
    assert [backup["backup_id"] for backup in found] == [plain]
    padded = client.simulate_get(f"/v2/project-a/backups/{plain}%20", headers=ALICE)
    assert padded.status_code == 404
    exact = client.simulate_get(f"/v2/project-a/backups/{spaced}", headers=ALICE)
    assert exact.status_code == 200
    twin = client.simulate_post(
        "/v2/project-a/clients", json={"client_id": "host1", "hostname": "h"}, headers=ALICE
    )
    other = client.simulate_post(
        "/v2/project-a/clients", json={"client_id": "host1 ", "hostname": "h"}, headers=ALICE
    )
    assert twin.status_code == 201 and other.status_code in (201, 400), other.text
