# SPDX-License-Identifier: Apache-2.0
"""The seed's /v1/backups, through the real app over simulated HTTP on real SQLite."""

from __future__ import annotations

import json
from typing import Any

import falcon.testing
import pytest

from tests.conftest import make_v1_backup, user, v1_id

ALICE = user("alice")
BOB = user("bob")


def post(client: falcon.testing.TestClient, document: dict[str, Any], headers=ALICE) -> str:
    result = client.simulate_post("/v1/backups", json=document, headers=headers)
    assert result.status_code == 201, result.text
    return result.json["backup_id"]


def test_create_answers_201_with_the_natural_id(client):
    document = make_v1_backup(container="c1", host_name="h1", backup_name="b1", level=2)
    result = client.simulate_post("/v1/backups", json=document, headers=ALICE)
    assert result.status_code == 201
    expected = f"c1_h1_b1_{document['timestamp']}_2"
    assert result.json == {"backup_id": expected}
    assert result.headers["location"].endswith(f"/v1/backups/{expected}")
    assert result.headers["etag"] == '"1"'


def test_get_returns_the_seed_record(client):
    document = make_v1_backup(extra_field={"kept": ["as", "given"]})
    backup_id = post(client, document)
    result = client.simulate_get(f"/v1/backups/{backup_id}", headers=ALICE)
    assert result.status_code == 200
    assert result.json == {
        "backup_id": backup_id,
        "user_id": "alice",
        "user_name": "alice",
        "backup_metadata": document,
    }


def test_posting_the_same_backup_twice_is_409_and_keeps_one(client):
    document = make_v1_backup()
    post(client, document)
    again = client.simulate_post("/v1/backups", json=document, headers=ALICE)
    assert again.status_code == 409
    assert v1_id(document) in again.json["description"]
    listed = client.simulate_get("/v1/backups", headers=ALICE).json["backups"]
    assert [item["backup_id"] for item in listed] == [v1_id(document)]


def test_two_users_may_post_the_same_backup(client):
    document = make_v1_backup()
    assert post(client, document, ALICE) == post(client, document, BOB)
    assert len(client.simulate_get("/v1/backups", headers=BOB).json["backups"]) == 1


@pytest.mark.parametrize("method", ["GET", "PATCH", "PUT", "DELETE"])
def test_another_users_backup_is_404(client, method):
    document = make_v1_backup()
    backup_id = post(client, document, ALICE)
    body = {"mode": "mysql"} if method == "PATCH" else document
    json = None if method in {"GET", "DELETE"} else body
    result = client.simulate_request(method, f"/v1/backups/{backup_id}", json=json, headers=BOB)
    assert result.status_code == 404
    assert result.json["title"] == "Not Found"
    still = client.simulate_get(f"/v1/backups/{backup_id}", headers=ALICE)
    assert still.json["backup_metadata"] == document


def test_list_shows_only_the_callers_backups(client):
    mine = post(client, make_v1_backup(), ALICE)
    post(client, make_v1_backup(), BOB)
    listed = client.simulate_get("/v1/backups", headers=ALICE).json["backups"]
    assert [item["backup_id"] for item in listed] == [mine]


def test_patch_merges_into_the_metadata_and_bumps_the_version(client):
    document = make_v1_backup(mode="fs")
    backup_id = post(client, document)
    result = client.simulate_patch(
        f"/v1/backups/{backup_id}", json={"mode": "mysql", "note": "x"}, headers=ALICE
    )
    assert result.status_code == 200
    assert result.headers["etag"] == '"2"'
    assert result.json["backup_metadata"] == {**document, "mode": "mysql", "note": "x"}
    stored = client.simulate_get(f"/v1/backups/{backup_id}", headers=ALICE)
    assert stored.json == result.json
    assert stored.headers["etag"] == '"2"'


def test_patch_cannot_change_the_fields_of_the_id(client):
    backup_id = post(client, make_v1_backup())
    result = client.simulate_patch(f"/v1/backups/{backup_id}", json={"level": 3}, headers=ALICE)
    assert result.status_code == 400
    assert "cannot change" in result.json["description"]


def test_put_replaces_the_metadata(client):
    document = make_v1_backup(mode="fs", note="old")
    backup_id = post(client, document)
    replacement = {key: document[key] for key in ("container", "host_name", "backup_name")}
    replacement.update(timestamp=document["timestamp"], level=0, mode="mongo")
    result = client.simulate_put(f"/v1/backups/{backup_id}", json=replacement, headers=ALICE)
    assert result.status_code == 200
    assert result.json["backup_metadata"] == replacement


def test_if_match_with_a_stale_version_is_412_and_changes_nothing(client):
    backup_id = post(client, make_v1_backup(mode="fs"))
    headers = {**ALICE, "If-Match": '"1"'}
    assert (
        client.simulate_patch(
            f"/v1/backups/{backup_id}", json={"mode": "a"}, headers=headers
        ).status_code
        == 200
    )
    stale = client.simulate_patch(f"/v1/backups/{backup_id}", json={"mode": "b"}, headers=headers)
    assert stale.status_code == 412
    assert (
        client.simulate_get(f"/v1/backups/{backup_id}", headers=ALICE).json["backup_metadata"][
            "mode"
        ]
        == "a"
    )


def test_delete_then_get_is_404_and_the_id_can_be_posted_again(client):
    document = make_v1_backup()
    backup_id = post(client, document)
    assert client.simulate_delete(f"/v1/backups/{backup_id}", headers=ALICE).status_code == 204
    assert client.simulate_get(f"/v1/backups/{backup_id}", headers=ALICE).status_code == 404
    assert client.simulate_delete(f"/v1/backups/{backup_id}", headers=ALICE).status_code == 404
    assert post(client, document) == backup_id


def test_noauth_defaults_apply_without_identity_headers(client):
    backup_id = post(client, make_v1_backup(), headers={})
    record = client.simulate_get(f"/v1/backups/{backup_id}").json
    assert (record["user_id"], record["user_name"]) == ("noauth-user", "noauth")


def test_trailing_slash_is_ignored(client):
    backup_id = post(client, make_v1_backup())
    assert client.simulate_get("/v1/backups/", headers=ALICE).status_code == 200
    assert client.simulate_get(f"/v1/backups/{backup_id}/", headers=ALICE).status_code == 200


# -- lists and paging ----------------------------------------------------------------


def fill(client, count: int, headers=ALICE) -> list[str]:
    return [post(client, make_v1_backup(), headers) for _ in range(count)]


def listed_ids(client, query: str = "", headers=ALICE) -> list[str]:
    result = client.simulate_get("/v1/backups", query_string=query, headers=headers)
    assert result.status_code == 200, result.text
    return [item["backup_id"] for item in result.json["backups"]]


def test_default_page_is_10_in_creation_order(client):
    ids = fill(client, 12)
    assert listed_ids(client) == ids[:10]
    assert listed_ids(client, "limit=0") == ids[:10]


def test_limit_and_offset_page_through_everything_once(client):
    ids = fill(client, 8)
    assert listed_ids(client, "limit=5") + listed_ids(client, "limit=3&offset=5") == ids
    assert listed_ids(client, "offset=8") == []


def test_marker_continues_after_that_backup(client):
    ids = fill(client, 7)
    assert listed_ids(client, f"limit=3&marker={ids[2]}") == ids[3:6]
    assert listed_ids(client, f"marker={ids[-1]}") == []


def test_limit_is_capped_by_max_limit(tmp_path):
    from freezer_api.app import create_app, storage_options
    from freezer_api.storage import open_storage
    from freezer_api.storage.sql import migrate
    from tests.conftest import make_settings

    settings = make_settings(f"sqlite:///{tmp_path / 'cap.db'}", max_limit=3)
    migrate.upgrade_url(settings.database_url)
    storage = open_storage(settings.database_url, storage_options(settings))
    capped = falcon.testing.TestClient(create_app(settings, storage))
    fill(capped, 5)
    assert len(listed_ids(capped, "limit=100")) == 3
    storage.close()


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ("limit=-1", "limit parameter must not be negative"),
        ("limit=ten", "limit parameter must be an integer"),
        ("offset=-5", "offset parameter must not be negative"),
        ("offset=1.5", "offset parameter must be an integer"),
        ("offset=99999999999999999999999", "offset parameter must be at most"),
        ("limit=9223372036854775808", "limit parameter must be at most"),
        ("time_after=99999999999999999999999", "time_after is beyond what searches compare"),
        ("marker=no-such-backup", "marker no-such-backup is not a known backup id"),
    ],
)
def test_bad_paging_parameters_are_400(client, query, said):
    fill(client, 2)
    result = client.simulate_get("/v1/backups", query_string=query, headers=ALICE)
    assert result.status_code == 400
    assert said in result.json["description"]


def test_another_users_id_is_not_a_marker(client):
    theirs = fill(client, 1, BOB)[0]
    fill(client, 1, ALICE)
    result = client.simulate_get("/v1/backups", query_string=f"marker={theirs}", headers=ALICE)
    assert result.status_code == 400


def keys_given_once(text: str) -> bool:
    objects: list[list[tuple[str, object]]] = []

    def keep(pairs: list[tuple[str, object]]) -> dict[str, object]:
        objects.append(pairs)
        return dict(pairs)

    json.loads(text, object_pairs_hook=keep)
    return bool(objects) and all(len(dict(pairs)) == len(pairs) for pairs in objects)


@pytest.mark.parametrize("name", ["alice", 'Zoë "the" \\ admin'])
def test_a_seed_backup_changed_through_v2_is_answered_once_per_key(client, name):
    # the seed record keeps user_name, v2 adds a status: both APIs answer each key once
    backup_id = post(client, make_v1_backup(), headers={**ALICE, "X-User-Name": name})
    v2 = f"/v2/{ALICE['X-Project-Id']}/backups"
    changed = client.simulate_patch(f"{v2}/{backup_id}", json={"status": "error"}, headers=ALICE)
    assert changed.status_code == 200, changed.text
    for path in (f"/v1/backups/{backup_id}", f"{v2}/{backup_id}", "/v1/backups", v2):
        answer = client.simulate_get(path, headers=ALICE).text
        assert keys_given_once(answer), answer
    v1_record = client.simulate_get(f"/v1/backups/{backup_id}", headers=ALICE).json
    assert v1_record["user_name"] == name
    listed = client.simulate_get(v2, headers=ALICE).json["backups"]
    assert [(item["backup_id"], item["status"]) for item in listed] == [(backup_id, "error")]
