# SPDX-License-Identifier: Apache-2.0
"""v2 backups: shapes, ownership, PATCH, search and paging."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import make_backup, make_job


def test_create_and_get_the_exact_document(api):
    document = make_backup(status="available")
    backup_id = api.created("backups", document)
    assert len(backup_id) == 32
    del document["status"]
    expected = {
        "backup_id": backup_id,
        "user_id": "u1",
        "project_id": "project-a",
        "status": "available",
        "backup_metadata": document,
    }
    assert api.get(f"backups/{backup_id}").json == expected
    assert api.listed("backups") == [expected]


def test_post_without_content_type_works(api):
    import json

    result = api.client.simulate_post(
        api.url("backups"), body=json.dumps(make_backup()), headers=api.headers
    )
    assert result.status_code == 201


@pytest.mark.parametrize(
    ("document", "said"),
    [
        ({"container": "c", "hostname": "h"}, "'backup_name' is a required property"),
        (make_backup(container=None), "container: must be of type string"),
        ({"backup_name": "b", "hostname": "h"}, "'container' is a required property"),
        (make_backup(status="lost"), "status: 'lost' is not one of"),
        (make_backup(time_stamp="yesterday"), "time_stamp: must be of type integer"),
        (make_backup(backup_name="x" * 300), "backup_name: "),
        ({}, "must be a non-empty JSON object"),
    ],
)
def test_invalid_backups_are_400_and_not_stored(api, document, said):
    result = api.post("backups", document)
    assert result.status_code == 400, result.text
    assert said in result.json["description"]
    assert api.listed("backups") == []


def test_a_backup_being_created_needs_no_host(api):
    backup_id = api.created(
        "backups", {"status": "creating", "backup_name": "vol", "mode": "cindernative"}
    )
    assert api.get(f"backups/{backup_id}").json["status"] == "creating"


def test_another_projects_backup_is_404_everywhere(api, other_api):
    backup_id = api.created("backups", make_backup())
    assert other_api.get(f"backups/{backup_id}").status_code == 404
    assert other_api.patch(f"backups/{backup_id}", {"status": "error"}).status_code == 404
    assert other_api.delete(f"backups/{backup_id}").status_code == 404
    assert other_api.listed("backups") == []
    assert api.get(f"backups/{backup_id}").json["status"] == "available"


def test_patch_merges_metadata_status_and_flat_keys(api):
    document = make_backup()
    backup_id = api.created("backups", document)
    result = api.patch(
        f"backups/{backup_id}",
        {"status": "error", "backup_metadata": {"a": 1}, "b": 2, "backup_id": "ignored"},
    )
    assert result.status_code == 200
    assert result.json["status"] == "error"
    assert result.json["backup_metadata"] == {**document, "a": 1, "b": 2}
    assert result.json["backup_id"] == backup_id


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ({"status": "gone"}, "status: 'gone' is not one of"),
        ({"backup_metadata": []}, "backup_metadata: must be of type object"),
        ({"backup_metadata": {"container": ""}}, "container: "),
        ({}, "non-empty JSON object"),
    ],
)
def test_bad_patches_are_400_and_change_nothing(api, body, said):
    backup_id = api.created("backups", make_backup())
    before = api.get(f"backups/{backup_id}")
    result = api.patch(f"backups/{backup_id}", body)
    assert result.status_code == 400 and said in result.json["description"]
    after = api.get(f"backups/{backup_id}")
    assert after.json == before.json and after.headers["etag"] == before.headers["etag"]


def test_backups_cannot_be_replaced(api):
    backup_id = api.created("backups", make_backup())
    result = api.post(f"backups/{backup_id}", make_backup())
    assert result.status_code == 405
    assert "POST" not in result.headers["allow"]


# -- search --------------------------------------------------------------------------


@pytest.fixture
def three(api):
    return [
        api.created("backups", make_backup(backup_name="etc", hostname="a", time_stamp=100)),
        api.created("backups", make_backup(backup_name="var", hostname="b", time_stamp=200)),
        api.created(
            "backups", make_backup(backup_name="etc", hostname="b", time_stamp=300, size=10)
        ),
    ]


def ids(items):
    return [item["backup_id"] for item in items]


def test_match_in_the_get_body(api, three):
    assert ids(api.listed("backups", {"match": [{"backup_name": "etc"}]})) == [three[0], three[2]]
    both = {"match": [{"backup_name": "etc"}, {"hostname": "b"}]}
    assert ids(api.listed("backups", both)) == [three[2]]


def test_match_not(api, three):
    assert ids(api.listed("backups", {"match_not": [{"hostname": "b"}]})) == [three[0]]
    # NOTE: a key a document lacks counts as "differs".
    assert ids(api.listed("backups", {"match_not": [{"size": 10}]})) == three[:2]


def test_filters_in_the_query_string(api, three):
    assert ids(api.listed("backups", query="backup_name=var")) == [three[1]]
    assert ids(api.listed("backups", query="search=b")) == three[1:]


def test_match_is_type_exact_on_json_fields(api, three):
    assert ids(api.listed("backups", {"match": [{"size": 10}]})) == [three[2]]
    assert api.listed("backups", {"match": [{"size": "10"}]}) == []
    assert api.listed("backups", {"match": [{"time_stamp": "100"}]}) == []


def test_all_text_and_all_json(api, three):
    assert ids(api.listed("backups", {"match": [{"_all": "var"}]})) == [three[1]]
    nested = {"match": [{"_all": '[{"backup_name": "etc"}, {"hostname": "a"}]'}]}
    assert ids(api.listed("backups", nested)) == [three[0]]


def test_time_window(api, three):
    assert ids(api.listed("backups", {"time_after": 150})) == three[1:]
    assert ids(api.listed("backups", {"time_before": 200})) == three[:2]
    assert ids(api.listed("backups", query="time_after=150&time_before=250")) == [three[1]]


@pytest.mark.parametrize(
    ("search", "said"),
    [
        ({"match": "backup_name"}, "match must be a list"),
        ({"match": [1]}, "match must be a list"),
        ({"match": [{"backup_name": {"a": 1}}]}, "must be a string, number, boolean or null"),
        ([{"backup_name": "etc"}], "search document must be a JSON object"),
        ({"time_after": "soon"}, "time_after must be an integer"),
        ({"match": [{"time_stamp": 10**25}]}, "beyond what searches compare"),
        ({"match_not": [{"mode": -(2**63) - 1}]}, "beyond what searches compare"),
        ({"match": [{"_all": '[{"level": 18446744073709551616}]'}]}, "beyond what searches"),
        ({"time_before": 2**63}, "time_before is beyond what searches compare"),
    ],
)
def test_bad_searches_are_400(api, three, search, said):
    result = api.get("backups", search)
    assert result.status_code == 400 and said in result.json["description"]


def test_paging_is_stable(api):
    created = [api.created("backups", make_backup()) for _ in range(8)]
    assert (
        ids(api.listed("backups", query="limit=5"))
        + ids(api.listed("backups", query="limit=3&offset=5"))
        == created
    )
    assert api.listed("backups", query="offset=8") == []
    assert ids(api.listed("backups", query=f"marker={created[5]}")) == created[6:]


@pytest.mark.parametrize("field", ["hostname", "notes"])
def test_nul_characters_are_refused_on_every_engine(api, field):
    result = api.post("backups", make_backup(**{field: "a\u0000b"}))
    assert result.status_code == 400
    assert "NUL" in result.json["description"]
    assert api.listed("backups") == []


@pytest.mark.parametrize("text", ["a\ud800b", "\udfff", "\udc00\ud800"])
def test_lone_surrogates_are_refused_on_every_engine(api, text):
    def sent(method: str, path: str, body: Any) -> Any:
        # NOTE: escaped as JSON allows (\\ud800); the test client's own encoding cannot
        raw = json.dumps(body)
        return api.client.simulate_request(method, api.url(path), body=raw, headers=api.headers)

    for path, body in [
        ("backups", make_backup(hostname=text)),
        ("backups", make_backup(**{text: 1})),
        ("jobs", {"job_schedule": {}, "job_actions": [], "description": text}),
    ]:
        result = sent("POST", path, body)
        assert result.status_code == 400, result.text
        assert "surrogate" in result.json["description"]
    search = sent("GET", "backups", {"match": [{"backup_name": text}]})
    assert search.status_code == 400 and "surrogate" in search.json["description"]
    assert api.listed("backups") == [] and api.listed("jobs") == []
    # an escaped pair is one character, and an escaped backslash only text
    result = sent("POST", "backups", make_backup(hostname="\ud83d\ude00 \\ud800"))
    assert result.status_code == 201, result.text
    (backup_id,) = result.json.values()
    hostname = api.get(f"backups/{backup_id}").json["backup_metadata"]["hostname"]
    assert hostname == "\U0001f600 \\ud800"


def test_nul_in_urls_and_identity_headers_is_refused_on_every_engine(api, three):
    for result in [
        api.get("backups/b%00c"),
        api.delete("backups/b%00c"),
        api.patch("backups/b%00c", {"status": "error"}),
        api.get("backups", query_string="backup_name=a%00b"),
        api.get("backups", query_string="marker=%00"),
        api.get("jobs", query_string="search=%00"),
    ]:
        assert result.status_code == 400, result.text
        assert "NUL" in result.json["description"]
    refused = api.client.simulate_post(
        "/v1/backups", json={"backup_name": "x"}, headers={"X-User-Id": "u\x001"}
    )
    assert refused.status_code == 400 and "NUL" in refused.json["description"]
    assert len(api.listed("backups")) == 3


def test_integers_beyond_64_bits_are_kept(api):
    # NOTE: not powers of two, which a float holds exactly and would compare equal
    document = make_backup(
        huge=10**25 + 7,
        small=-(10**25) - 7,
        nested={"sizes": [2**64, -(2**63) - 1, 2**64 - 1]},
    )
    backup_id = api.created("backups", document)
    for read in (
        api.get(f"backups/{backup_id}").json["backup_metadata"],
        api.listed("backups")[0]["backup_metadata"],
    ):
        assert read == document
        assert type(read["huge"]) is int and type(read["nested"]["sizes"][0]) is int


def test_only_a_create_that_is_one_insert_runs_outside_a_transaction(storage):
    from freezer_api.service.backups import BackupRules
    from freezer_api.service.documents import DocumentService

    class Expanding(BackupRules):
        def expand(self, call, storage, records):
            return records

    assert DocumentService(BackupRules(), storage).rules.creates_alone
    with pytest.raises(ValueError, match="not alone"):
        DocumentService(Expanding(), storage)


def strict_json(text: str) -> Any:
    """The answer's JSON; a key given twice in one object fails the test."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in items]
        assert len(keys) == len(set(keys)), f"a key given twice: {keys}"
        return dict(items)

    return json.loads(text, object_pairs_hook=pairs)


AWKWARD = {
    "note": 'quote " back \\ tab \t ☃ 😀 \u2028 \u0007',
    "ratio": 0.1,
    "huge": 1.5e300,
    "big": 2**64 - 1,
    "nested": {"list": [[], {}, [None, True, -0.5]], "": ""},
}


def test_answers_carry_the_stored_metadata_exactly(api):
    # answers on SQLite and MariaDB embed the metadata as stored, without decoding it
    document = make_backup(**AWKWARD)
    backup_id = api.created("backups", document)
    plain_id = api.created("backups", make_backup(status="error"))
    document.pop("status", None)
    expected = {
        "backup_id": backup_id,
        "user_id": "u1",
        "project_id": "project-a",
        "status": "available",
        "backup_metadata": document,
    }
    assert strict_json(api.get(f"backups/{backup_id}").text) == expected
    listed = strict_json(api.get("backups").text)["backups"]
    assert listed[0] == expected
    assert [item["status"] for item in listed] == ["available", "error"]
    assert listed[1]["backup_id"] == plain_id
    # what the answer holds is what a PATCH then merges into
    assert api.patch(f"backups/{backup_id}", {"backup_metadata": {"ratio": 0.2}}).status_code == 200
    changed = strict_json(api.get(f"backups/{backup_id}").text)
    assert changed["backup_metadata"] == {**document, "ratio": 0.2}


def test_an_integer_beyond_64_bits_beside_stored_metadata_is_answered_exactly(api):
    # orjson cannot write it: the standard library writes the whole page
    first = api.created("backups", make_backup(size=2**70))
    second = api.created("backups", make_backup(**AWKWARD))
    listed = strict_json(api.get("backups").text)["backups"]
    assert [item["backup_id"] for item in listed] == [first, second]
    assert listed[0]["backup_metadata"]["size"] == 2**70
    assert listed[1]["backup_metadata"]["nested"] == AWKWARD["nested"]


@pytest.fixture
def sortable(api) -> dict[str, str]:
    """Backups whose time stamps and names do not follow their creation order."""
    ids = {}
    for name, time_stamp, host in [
        ("b", 30, "h1"),
        ("a", 10, "h2"),
        ("c", 20, "h1"),
        ("a", 20, "h3"),
        ("d", 10, "h2"),
    ]:
        body = make_backup(backup_name=name, time_stamp=time_stamp, hostname=host)
        ids[f"{name}{time_stamp}"] = api.created("backups", body)
    return ids


def listed_ids(api, query: str) -> list[str]:
    return [backup["backup_id"] for backup in api.listed("backups", query=query)]


def test_lists_sort_on_indexed_fields_with_creation_order_breaking_ties(api, sortable):
    ids = sortable
    assert listed_ids(api, "") == [ids[k] for k in ("b30", "a10", "c20", "a20", "d10")]
    newest = listed_ids(api, "sort=time_stamp:desc")
    assert newest == [ids[k] for k in ("b30", "a20", "c20", "d10", "a10")]
    by_name = listed_ids(api, "sort=backup_name,time_stamp:desc")
    assert by_name == [ids[k] for k in ("a20", "a10", "b30", "c20", "d10")]
    assert listed_ids(api, "sort=time_stamp:asc&hostname=h1") == [ids["c20"], ids["b30"]]


@pytest.mark.parametrize(
    "sort", ["time_stamp:desc", "backup_name:asc,time_stamp:desc", "hostname:desc", "backup_id"]
)
def test_marker_pages_under_any_order_give_the_whole_list_once(api, sortable, sort):
    whole = listed_ids(api, f"sort={sort}&limit=100")
    paged: list[str] = []
    marker = ""
    while True:
        page = listed_ids(api, f"sort={sort}&limit=2{marker}")
        if not page:
            break
        paged += page
        marker = f"&marker={page[-1]}"
    assert paged == whole and len(whole) == 5


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ("sort=status", "Unknown sort key 'status'; the keys are: backup_id, backup_name"),
        ("sort=time_stamp:up", "sort must be key:asc or key:desc"),
        ("sort=time_stamp,time_stamp:desc", "sort names time_stamp twice"),
        ("sort=,", "sort must be key:asc or key:desc"),
    ],
)
def test_bad_sorts_are_400(api, sortable, query, said):
    result = api.get("backups", query_string=query)
    assert result.status_code == 400 and said in result.json["description"]


def test_other_kinds_sort_by_their_ids(api):
    client_id = api.register()
    jobs = sorted(
        api.created("jobs", make_job(client_id, job_id=name)) for name in ("j3", "j1", "j2")
    )
    assert [job["job_id"] for job in api.listed("jobs", query="sort=job_id:desc")] == jobs[::-1]
    result = api.get("sessions", query_string="sort=status")
    assert result.status_code == 400 and "the keys are: session_id" in result.json["description"]


@pytest.mark.parametrize(
    ("kind", "query", "accepted"),
    [
        ("backups", "time_afer=1700000000", "backup_name"),
        ("backups", "backup_metadata.fs_real_path=/etc", "time_after"),
        ("jobs", "statuss=running", "client_id"),
        ("sessions", "schedule_interval=daily", "session_id"),
    ],
)
def test_a_query_parameter_that_filters_on_no_indexed_key_is_400_naming_the_accepted(
    api, kind, query, accepted
):
    api.created("backups", make_backup())
    result = api.get(kind, query_string=query)
    assert result.status_code == 400
    description = result.json["description"]
    key = query.split("=")[0]
    assert f"Unknown query parameter {key!r}" in description
    assert accepted in description and "limit" in description and '{"match"' in description


def test_the_parameters_the_official_clients_send_are_accepted(api):
    """python-freezerclient 6.5.0 sends limit and offset (and all_projects for jobs)."""
    api.created("backups", make_backup())
    assert api.get("backups", query_string="limit=10&offset=0").status_code == 200
    assert api.get("jobs", query_string="limit=10&offset=0&all_projects=False").status_code == 200
    listed = api.get("backups", query_string="hostname=db1.example.org&search=etc")
    assert listed.status_code == 200
