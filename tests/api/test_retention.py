# SPDX-License-Identifier: Apache-2.0
"""Chain-aware retention: preview, then apply exactly what was previewed; on every engine."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.api.test_restore_points import backup_at, new_host, restore_point
from tests.conftest import seeded

DAY = 86400


def points_of(api, host: str) -> list[Any]:
    """Every restore point of the host's set, newest first ([] once it has no backups)."""
    result = restore_point(api, host, limit=100)
    if result.status_code == 404:
        return []
    assert result.status_code == 200, result.text
    points: list[Any] = result.json["restore_points"]
    return points


def preview(api, host: str, **keep: Any) -> Any:
    result = api.post("retention/preview", {"selector": {"hostname": host}, "keep": keep})
    assert result.status_code == 200, result.text
    return result.json


def decided(answer: Any) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    keep = {entry["backup_id"]: entry["reasons"] for entry in answer["keep"]}
    expire = {entry["backup_id"]: entry["reasons"] for entry in answer["expire"]}
    return keep, expire


def test_the_last_restore_point_keeps_its_chain_and_the_rest_expire(api):
    host = new_host()
    old_full = backup_at(api, host, 1 * DAY, 0)
    old_one = backup_at(api, host, 2 * DAY, 1)
    old_two = backup_at(api, host, 3 * DAY, 2)
    full = backup_at(api, host, 4 * DAY, 0)
    one = backup_at(api, host, 5 * DAY, 1)
    keep, expire = decided(preview(api, host, last=1))
    assert keep == {one: ["last 1"], full: [f"needed by {one}"]}
    assert expire == {b: ["no rule keeps it"] for b in (old_two, old_one, old_full)}
    # a level 2 kept keeps the level 1 and the level 0 below it
    keep, _ = decided(preview(api, host, daily=3))
    assert set(keep) == {one, full, old_two, old_one, old_full}
    assert keep[old_one] == [f"needed by {old_two}"]
    assert keep[old_full] == [f"needed by {old_two}", f"needed by {old_one}"]


def test_calendar_rules_keep_the_newest_of_each_bucket(api):
    host = new_host()
    ids = [backup_at(api, host, 10 * DAY + hour * 3600, 0) for hour in (1, 2, 25, 26, 50)]
    keep, expire = decided(preview(api, host, daily=2))
    assert keep == {ids[4]: ["daily 1970-01-13"], ids[3]: ["daily 1970-01-12"]}
    assert set(expire) == set(ids[:3])
    keep, _ = decided(preview(api, host, within="1d", hourly=1))
    assert keep[ids[4]] == ["hourly 1970-01-13T02", "within 1d of the newest backup"]
    assert keep[ids[3]] == ["within 1d of the newest backup"]
    assert set(keep) == {ids[4], ids[3]}


def test_what_cannot_be_proved_safe_is_kept_and_what_cannot_restore_expires(api):
    host = new_host()
    failed = backup_at(api, host, 1 * DAY, 0, status="error")
    on_failed = backup_at(api, host, 2 * DAY, 1)
    orphan = backup_at(api, host, 3 * DAY, 3)
    unknown = backup_at(api, host, 4 * DAY, 0, max_level=4)
    busy = backup_at(api, host, 5 * DAY, 1, status="creating", max_level=4)
    keep, expire = decided(preview(api, host, last=5))
    assert set(expire) == {failed, on_failed, orphan}
    assert expire[failed] == [f"failed backup: {failed} has status 'error'"]
    assert expire[orphan] == [f"missing link: no level 2 backup before {orphan}"]
    assert keep[busy] == ["unfinished: it may still be being written"]
    assert keep[unknown][0].startswith("not known to be safe to delete: unknown level")
    assert keep[unknown][1] == f"needed by {busy}"


def test_apply_deletes_exactly_what_the_preview_listed_or_nothing(api):
    host = new_host()
    for day in range(1, 6):
        backup_at(api, host, day * DAY, 0)
    body = {"selector": {"hostname": host}, "keep": {"last": 2}}
    answer = api.post("retention/preview", body).json
    expired = [entry["backup_id"] for entry in answer["expire"]]
    assert len(expired) == 3
    backup_at(api, host, 6 * DAY, 0)  # the catalogue changes: the preview is stale
    stale = api.post("retention/apply", {**body, "fingerprint": answer["fingerprint"]})
    assert stale.status_code == 412, stale.text
    assert all(api.get(f"backups/{backup_id}").status_code == 200 for backup_id in expired)
    answer = api.post("retention/preview", body).json
    applied = api.post("retention/apply", {**body, "fingerprint": answer["fingerprint"]})
    assert applied.status_code == 200, applied.text
    assert applied.json["deleted"] == [entry["backup_id"] for entry in answer["expire"]]
    assert len(applied.json["deleted"]) == 4
    left = decided(preview(api, host, last=2))
    assert left[1] == {} and len(left[0]) == 2


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ({"selector": {}, "keep": {"last": 1}}, "selector must name"),
        ({"selector": {"colour": "red"}, "keep": {"last": 1}}, "selector has no"),
        ({"selector": {"hostname": "h"}, "keep": {}}, "every backup would expire"),
        ({"selector": {"hostname": "h"}, "keep": {"forever": 1}}, "Unknown keep rules"),
        ({"selector": {"hostname": "h"}, "keep": {"last": -1}}, "1 or more"),
        ({"selector": {"hostname": "h"}, "keep": {"daily": True}}, "1 or more"),
        ({"selector": {"hostname": "h"}, "keep": {"within": "a month"}}, "duration"),
        ({"selector": {"hostname": "h"}, "keep": {"last": 1}, "fingerprint": "x"}, "gives one"),
        ([], "must be a JSON object"),
    ],
)
def test_bad_retention_bodies_are_400(api, body, said):
    result = api.post("retention/preview", body)
    assert result.status_code == 400, result.text
    assert said in result.json["description"]


def test_apply_needs_a_fingerprint_and_a_member(api, client):
    from tests.conftest import V2

    body = {"selector": {"hostname": "h"}, "keep": {"last": 1}}
    assert api.post("retention/apply", body).status_code == 400
    reader = V2(client, "project-a", user_id="r")
    reader.headers["X-Roles"] = "reader"
    assert reader.post("retention/preview", body).status_code == 200
    assert reader.post("retention/apply", {**body, "fingerprint": "f"}).status_code == 403


RULES = st.fixed_dictionaries(
    {},
    optional={
        "last": st.integers(1, 4),
        "daily": st.integers(1, 3),
        "weekly": st.integers(1, 2),
        "within": st.sampled_from(["1d", "3d", "1w"]),
    },
).filter(bool)


@seeded(20)
@given(
    backups=st.lists(
        st.tuples(
            st.integers(0, 20),  # hours after the previous backup
            st.sampled_from([0, 0, 1, 1, 2, 3]),
            st.sampled_from(["available", "available", "available", "error", "creating"]),
        ),
        min_size=1,
        max_size=10,
    ),
    rules=RULES,
)
def test_retention_never_breaks_a_kept_chain_and_apply_deletes_what_it_previewed(
    api, backups, rules
):
    host = new_host()
    time_stamp = 100 * DAY
    for hours, level, status in backups:
        time_stamp += hours * 3600 + 1
        backup_at(api, host, time_stamp, level, status=status)
    answer = preview(api, host, **rules)
    keep, expire = decided(answer)
    assert set(keep).isdisjoint(expire) and len(keep) + len(expire) == len(backups)
    points = points_of(api, host)
    # the whole-set chains of retention are those the restore points find by index seeks
    every = preview(api, host, last=100)["keep"]
    assert [e["backup_id"] for e in every if "last 100" in e["reasons"]] == [
        point["backup_id"] for point in points
    ]
    chains = {
        point["backup_id"]: [link["backup_id"] for link in point["chain"]] for point in points
    }
    for backup_id in keep:
        for link in chains.get(backup_id, []):
            assert link in keep, (backup_id, link)
    body = {"selector": {"hostname": host}, "keep": rules, "fingerprint": answer["fingerprint"]}
    applied = api.post("retention/apply", body)
    assert applied.status_code == 200, applied.text
    assert sorted(applied.json["deleted"]) == sorted(expire)
    kept_points = [backup_id for backup_id in chains if backup_id in keep]
    after = points_of(api, host)
    assert [point["backup_id"] for point in after] == [
        point["backup_id"] for point in points if point["backup_id"] in kept_points
    ]


def test_freezer_manage_retention_apply_across_projects(client, database_url, tmp_path, capsys):
    from freezer_api.cli import manage
    from tests.conftest import V2

    hosts = {}
    for project in ("project-a", "project-b"):
        api = V2(client, project)
        hosts[project] = host = new_host()
        for day in range(1, 5):
            backup_at(api, host, day * DAY, 0)
    conf = tmp_path / "manage.conf"
    conf.write_text(f"[database]\nconnection = {database_url}\n")
    argv = ["--config-file", str(conf), "retention", "apply", "--keep", "last=1"]
    assert manage.main([*argv, "--hostname", hosts["project-a"], "--dry-run"]) == 0
    said = capsys.readouterr().out
    assert "project project-a: would delete 3 of 4 backups: " in said
    assert "project project-b: would delete 0 of 0 backups" in said
    assert len(points_of(V2(client, "project-a"), hosts["project-a"])) == 4

    assert manage.main([*argv, "--all-sets", "--project", "project-b"]) == 0
    assert capsys.readouterr().out.strip() == "project project-b: deleted 3 of 4 backups"
    assert len(points_of(V2(client, "project-b"), hosts["project-b"])) == 1
    assert len(points_of(V2(client, "project-a"), hosts["project-a"])) == 4

    assert manage.main([*argv[:-2], "--keep", "daily=x", "--all-sets"]) == 1
    assert "takes a whole number" in capsys.readouterr().err
    assert manage.main([*argv]) == 1
    assert "--all-sets" in capsys.readouterr().err
