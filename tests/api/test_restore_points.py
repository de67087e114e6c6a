# SPDX-License-Identifier: Apache-2.0
"""Backup sets, chains and restore points (v2), on every engine."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import V2, make_backup, seeded

_hosts = itertools.count()


def new_host() -> str:
    return f"host{next(_hosts)}.example.org"


def backup_at(api: V2, host: str, time_stamp: int, level: int | None, **extra: Any) -> str:
    body = make_backup(hostname=host, time_stamp=time_stamp, **extra)
    if level is None:
        body.pop("curr_backup_level")
    else:
        body["curr_backup_level"] = level
    return api.created("backups", body)


def restore_point(api: V2, host: str, at: int | str | None = None, **params: Any) -> Any:
    query = {"hostname": host, "backup_name": "etc", **params}
    if at is not None:
        query["at"] = at
    return api.get("restore-points", params=query)


def test_the_restore_point_is_the_newest_complete_chain(api):
    host = new_host()
    full = backup_at(api, host, 1000, 0)
    first = backup_at(api, host, 2000, 1)
    second = backup_at(api, host, 3000, 2)
    found = restore_point(api, host, 3500)
    assert found.status_code == 200, found.text
    point = found.json["restore_point"]
    assert point["backup_id"] == second and point["time_stamp"] == 3000
    assert [link["backup_id"] for link in point["chain"]] == [full, first, second]
    assert [link["level"] for link in point["chain"]] == [0, 1, 2]
    assert point["chain"][0] == {
        "backup_id": full,
        "level": 0,
        "time_stamp": 1000,
        "status": "available",
        "storage": None,
        "container": "freezer_container",
    }
    assert point["agent_options"] == {
        "action": "restore",
        "backup_name": "etc",
        "container": "freezer_container",
        "hostname": host,
        "restore_from_date": "1970-01-01T00:50:00Z",
        "mode": "fs",
        "restore_abs_path": "/etc",
    }
    assert found.json["skipped"] == []
    # between two backups, the older one; as an ISO date too
    assert restore_point(api, host, 2500).json["restore_point"]["backup_id"] == first
    iso = restore_point(api, host, "1970-01-01T00:41:40Z").json["restore_point"]
    assert iso["backup_id"] == first  # 2500 s
    assert restore_point(api, host, 999).status_code == 404


def test_newer_backups_that_cannot_restore_are_passed_over_with_the_reason(api):
    host = new_host()
    good = backup_at(api, host, 1000, 0)
    broken = backup_at(api, host, 2000, 1, status="error")
    on_broken = backup_at(api, host, 3000, 2)
    orphan = backup_at(api, host, 4000, 4)
    unknown = backup_at(api, host, 5000, None)
    found = restore_point(api, host, 6000).json
    assert found["restore_point"]["backup_id"] == good
    reasons = {item["backup_id"]: item["reason"] for item in found["skipped"]}
    assert list(reasons) == [unknown, orphan, on_broken, broken]
    assert reasons[unknown].startswith("unknown level")
    assert reasons[orphan] == f"missing link: no level 3 backup before {orphan}"
    assert reasons[on_broken] == f"failed backup: {broken} has status 'error'"
    assert reasons[broken] == f"failed backup: {broken} has status 'error'"


def test_a_level_0_of_an_incremental_agent_is_unknown_until_a_level_1_builds_on_it(api):
    """freezer-agent 19.0.0 reports level 0 for incrementals: max_level set proves nothing."""
    host = new_host()
    root = backup_at(api, host, 1000, 0, max_level=3)
    alone = restore_point(api, host, 1500)
    assert alone.status_code == 404
    assert "not known to be self-contained" in alone.json["description"]
    child = backup_at(api, host, 2000, 1, max_level=3)
    point = restore_point(api, host, 2500).json["restore_point"]
    assert point["backup_id"] == child
    assert [link["backup_id"] for link in point["chain"]] == [root, child]


def test_every_restore_point_newest_first_paged(api):
    host = new_host()
    ids = [backup_at(api, host, 1000 * (number + 1), number % 3) for number in range(7)]
    backup_at(api, host, 8000, 5)  # no level 4: not a restore point
    first = restore_point(api, host, limit=3)
    assert first.status_code == 200, first.text
    assert [point["backup_id"] for point in first.json["restore_points"]] == ids[::-1][:3]
    rest = restore_point(api, host, marker=first.json["next"], limit=10).json
    assert [point["backup_id"] for point in rest["restore_points"]] == ids[::-1][3:]
    assert rest["next"] is None


def test_the_backup_sets_overview(api, other_api):
    host = new_host()
    backup_at(api, host, 1000, 0)
    last = backup_at(api, host, 2000, 1)
    backup_at(api, host, 3000, 2, status="creating")
    backup_at(api, host, 1500, 0, container="other")
    backup_at(other_api, host, 1000, 0)
    result = api.get("backup-sets", params={"hostname": host})
    assert result.status_code == 200, result.text
    sets = {entry["container"]: entry for entry in result.json["backup_sets"]}
    assert set(sets) == {"freezer_container", "other"}
    main = sets["freezer_container"]
    assert main["hostname"] == host and main["backup_name"] == "etc"
    assert (main["count"], main["first_time_stamp"], main["last_time_stamp"]) == (3, 1000, 3000)
    assert main["last_restorable"] == {"backup_id": last, "time_stamp": 2000}
    assert main["max_level"] == 2
    page = api.get("backup-sets", params={"hostname": host, "limit": 1}).json["backup_sets"]
    after = api.get("backup-sets", params={"hostname": host, "marker": page[0]["set_id"]}).json[
        "backup_sets"
    ]
    assert [entry["set_id"] for entry in page + after] == sorted(
        entry["set_id"] for entry in sets.values()
    )
    # the container must be named when a host and name have several
    several = restore_point(api, host, 5000)
    assert several.status_code == 400 and "several containers" in several.json["description"]
    assert restore_point(api, host, 5000, container="other").status_code == 200


@pytest.mark.parametrize(
    ("path", "params", "said"),
    [
        ("restore-points", {"hostname": "h"}, "missing ['backup_name']"),
        ("restore-points", {"hostname": "h", "backup_name": "etc", "at": "yesterday"}, "ISO 8601"),
        ("restore-points", {"hostname": "h", "backup_name": "etc", "colour": "red"}, "Unknown"),
        ("restore-points", {"hostname": "h", "backup_name": "etc", "marker": "x"}, "marker"),
        ("backup-sets", {"limit": "-1"}, "whole number"),
        ("backup-sets", {"sort": "hostname"}, "Unknown query parameter 'sort'"),
    ],
)
def test_bad_queries_are_400(api, path, params, said):
    result = api.get(path, params=params)
    assert result.status_code == 400, result.text
    assert said in result.json["description"]


def test_policy_and_json_home(api, client):
    host = new_host()
    backup_at(api, host, 1000, 0)
    reader = V2(client, "project-a", user_id="r")
    reader.headers["X-Roles"] = "reader"
    assert restore_point(reader, host, 2000).status_code == 200
    outsider = V2(client, "project-a", user_id="o")
    outsider.headers.update({"X-Roles": "member", "X-Project-Id": "project-b"})
    assert restore_point(outsider, host, 2000).status_code == 403
    assert outsider.get("backup-sets").status_code == 403
    home = client.simulate_get("/v2", headers={"Accept": "application/json-home"}).json
    assert home["resources"]["rel/restore_points"]["href"] == "/v2/{project_id}/restore-points"
    assert home["resources"]["rel/backup_sets"]["hints"]["allow"] == ["GET"]


def expected_point(backups: list[tuple[int, int | None, bool]], at: int) -> int | None:
    """The index of the newest restore point at or before ``at``, by the definition: a
    level-n backup depends on the nearest earlier level n-1 one, down to a level 0, and
    every link of its chain must be there and good."""
    for index in range(len(backups) - 1, -1, -1):
        time_stamp, level, good = backups[index]
        if time_stamp > at:
            continue
        chain_ok, current, current_level = good, index, level
        while chain_ok and current_level is not None and current_level > 0:
            parents = [
                earlier for earlier in range(current) if backups[earlier][1] == current_level - 1
            ]
            if not parents:
                chain_ok = False
                break
            current = parents[-1]
            current_level = backups[current][1]
            chain_ok = backups[current][2]
        if chain_ok and current_level is not None:
            return index
    return None


@seeded(25)
@given(
    levels=st.lists(
        st.tuples(st.sampled_from([0, 0, 1, 1, 2, 3, None]), st.sampled_from([True, True, False])),
        min_size=1,
        max_size=10,
    ),
    at_index=st.integers(min_value=0, max_value=10),
)
def test_the_restore_point_is_the_newest_complete_chain_at_or_before_t(api, levels, at_index):
    host = new_host()
    backups = []
    ids = []
    for number, (level, good) in enumerate(levels):
        time_stamp = 1000 * (number + 1)
        status = "available" if good else "error"
        ids.append(backup_at(api, host, time_stamp, level, status=status))
        backups.append((time_stamp, level, good))
    at = 1000 * (at_index + 1) + 500
    found = restore_point(api, host, at)
    index = expected_point(backups, at)
    if index is None:
        assert found.status_code == 404, found.text
    else:
        assert found.status_code == 200, found.text
        assert found.json["restore_point"]["backup_id"] == ids[index]
        skipped = [item["backup_id"] for item in found.json["skipped"]]
        newer = [i for i in range(index + 1, len(backups)) if backups[i][0] <= at]
        assert skipped == [ids[i] for i in reversed(newer)]


def test_a_backups_dependents_are_the_chains_that_need_it(api):
    host = new_host()
    full = backup_at(api, host, 1000, 0)
    one = backup_at(api, host, 2000, 1)
    two = backup_at(api, host, 3000, 2)
    other_one = backup_at(api, host, 4000, 1)
    next_full = backup_at(api, host, 5000, 0)
    after_next = backup_at(api, host, 6000, 1)

    def dependents(backup_id: str) -> list[str]:
        result = api.get(f"backups/{backup_id}/dependents")
        assert result.status_code == 200, result.text
        return [each["backup_id"] for each in result.json["dependents"]]

    assert dependents(full) == [one, two, other_one]
    assert dependents(one) == [two]
    assert dependents(two) == []
    assert dependents(next_full) == [after_next]
    assert api.get("backups/nothing/dependents").status_code == 404
    assert api.get(f"backups/{full}/dependents", params={"x": "1"}).status_code == 400
    outsider = V2(api.client, "project-b", user_id="o")
    assert outsider.get(f"backups/{full}/dependents").status_code == 404


def test_deleting_a_backup_others_need(api, tmp_path, storage):
    """By default a DELETE answers as 19.0.0's; ``cascade`` deletes the dependents too; with
    ``[api] protect_chains`` a DELETE that would break chains is a 409 naming them."""
    import falcon.testing

    from freezer_api.app import create_app
    from tests.conftest import make_settings

    host = new_host()
    full = backup_at(api, host, 1000, 0)
    one = backup_at(api, host, 2000, 1)
    two = backup_at(api, host, 3000, 2)
    assert api.delete(f"backups/{two}").status_code == 204
    two = backup_at(api, host, 3000, 2)
    assert api.delete(f"backups/{one}", params={"cascade": "maybe"}).status_code == 400
    assert api.delete("jobs/x", params={"cascade": "true"}).status_code in (400, 404)

    settings = make_settings(str(storage.engine.url.render_as_string(hide_password=False)))
    protected = V2(
        falcon.testing.TestClient(
            create_app(dataclasses.replace(settings, protect_chains=True), storage)
        ),
        "project-a",
    )
    refused = protected.delete(f"backups/{full}")
    assert refused.status_code == 409, refused.text
    assert one in refused.json["description"] and two in refused.json["description"]
    assert protected.get(f"backups/{full}").status_code == 200
    assert protected.delete(f"backups/{two}").status_code == 204  # nothing needs it
    assert protected.delete(f"backups/{full}", params={"cascade": "true"}).status_code == 204
    for gone in (full, one):
        assert api.get(f"backups/{gone}").status_code == 404


@seeded(15)
@given(
    backups=st.lists(
        st.tuples(st.sampled_from([0, 0, 1, 1, 2, 3]), st.booleans()),
        min_size=1,
        max_size=8,
    ),
    order=st.randoms(use_true_random=False),
)
def test_the_chains_after_any_order_of_creates_and_deletes_are_those_built_from_scratch(
    api, backups, order
):
    """Backups created in any order, some deleted: the restore points and each backup's
    dependents are those of a set holding only the survivors, created oldest first."""
    shuffled, scratch = new_host(), new_host()
    numbered = list(enumerate(backups))
    order.shuffle(numbered)
    ids = {}
    for number, (level, _) in numbered:
        ids[number] = backup_at(api, shuffled, 1000 * (number + 1), level)
    for number, (_, deleted) in numbered:
        if deleted:
            assert api.delete(f"backups/{ids[number]}").status_code == 204
    survivors = [number for number, (_, deleted) in enumerate(backups) if not deleted]
    fresh = {
        number: backup_at(api, scratch, 1000 * (number + 1), backups[number][0])
        for number in survivors
    }

    def shape(host: str, id_of: dict[int, str]) -> Any:
        number_of = {backup_id: number for number, backup_id in id_of.items()}
        listed = restore_point(api, host, limit=100)
        points = listed.json["restore_points"] if listed.status_code == 200 else []
        chains = [[number_of[link["backup_id"]] for link in point["chain"]] for point in points]
        dependents = {
            number: [
                number_of[each["backup_id"]]
                for each in api.get(f"backups/{id_of[number]}/dependents").json["dependents"]
            ]
            for number in survivors
        }
        return chains, dependents

    assert shape(shuffled, {n: ids[n] for n in survivors}) == shape(scratch, fresh)
