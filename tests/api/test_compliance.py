# SPDX-License-Identifier: Apache-2.0
"""Freshness objectives (a v2 kind) and compliance, on every engine."""

from __future__ import annotations

import dataclasses
from typing import Any

import falcon.testing
import pytest

from freezer_api.app import create_app
from tests.conftest import V2, make_backup

NOW = 1_800_000_000
HOUR = 3600


@dataclasses.dataclass
class Clock:
    now: float

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock(NOW)


@pytest.fixture
def site(settings, storage, clock):
    return V2(falcon.testing.TestClient(create_app(settings, storage, clock=clock)), "p1")


def backup(api: V2, host: str, age: int, level: int = 0, **extra: Any) -> str:
    body = make_backup(hostname=host, time_stamp=NOW - age, curr_backup_level=level, **extra)
    return api.created("backups", body)


def compliance(api: V2, **params: Any) -> dict[str, Any]:
    answer = api.get("compliance", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json


def by_host(answer: dict[str, Any]) -> dict[str | None, dict[str, Any]]:
    return {entry["hostname"]: entry for entry in answer["backup_sets"]}


def test_objectives_are_a_kind_like_the_others(site):
    body = {"selector": {"hostname": "db1"}, "max_age_seconds": 86400, "description": "daily"}
    created = site.post("objectives", body)
    assert created.status_code == 201, created.text
    objective_id = created.json["objective_id"]
    stored = site.get(f"objectives/{objective_id}").json
    assert stored == {
        "objective_id": objective_id,
        "project_id": "p1",
        "user_id": "u1",
        "selector": {"hostname": "db1"},
        "max_age_seconds": 86400,
        "description": "daily",
    }
    assert site.patch(f"objectives/{objective_id}", {"max_age_seconds": 3600}).status_code == 200
    assert site.get(f"objectives/{objective_id}").json["max_age_seconds"] == 3600
    assert [entry["objective_id"] for entry in site.listed("objectives")] == [objective_id]
    assert site.delete(f"objectives/{objective_id}").status_code == 204
    assert site.get(f"objectives/{objective_id}").status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"max_age_seconds": 0},
        {"max_age_seconds": "1d"},
        {"max_age_seconds": 60, "selector": {"host": "x"}},
        {"max_age_seconds": 60, "selector": {"hostname": ""}},
        {"max_age_seconds": 60, "selector": "db1"},
        {"max_age_seconds": 60, "color": "red"},
        {"max_age_seconds": 2**40},
        [],
    ],
)
def test_a_bad_objective_is_refused_and_nothing_is_stored(site, body):
    answer = site.post("objectives", body)
    assert answer.status_code == 400, answer.text
    assert site.listed("objectives") == []


def test_each_set_gets_the_state_of_its_strictest_objective(site):
    backup(site, "fresh", age=HOUR)
    backup(site, "late", age=30 * HOUR)
    backup(site, "breached", age=60 * HOUR)
    backup(site, "failed", age=HOUR, status="error")
    backup(site, "elsewhere", age=HOUR, container="other")
    daily = site.created("objectives", {"selector": {"container": "freezer_container"},
                                        "max_age_seconds": 24 * HOUR})  # fmt: skip
    strict = site.created(
        "objectives", {"selector": {"hostname": "fresh"}, "max_age_seconds": HOUR - 60}
    )
    ghost = site.created("objectives", {"selector": {"hostname": "db9"}, "max_age_seconds": 60})
    answer = by_host(compliance(site))
    assert answer["fresh"]["objective_id"] == strict
    assert answer["fresh"]["state"] == "late"  # 1 h old, 59 min allowed
    assert answer["late"]["state"] == "late" and answer["late"]["objective_id"] == daily
    assert answer["late"]["age_seconds"] == 30 * HOUR
    assert answer["breached"]["state"] == "breached"
    assert answer["failed"]["state"] == "never"
    assert answer["failed"]["last_restorable"] is None
    assert answer["elsewhere"]["state"] == "uncovered"
    assert answer["elsewhere"]["objective_id"] is None
    assert answer["elsewhere"]["age_seconds"] == HOUR
    assert answer["db9"] == {
        "set_id": None,
        "hostname": "db9",
        "backup_name": None,
        "container": None,
        "objective_id": ghost,
        "state": "never",
        "last_restorable": None,
        "age_seconds": None,
    }
    fresh = answer["fresh"]["last_restorable"]
    assert fresh == {"backup_id": fresh["backup_id"], "time_stamp": NOW - HOUR}
    assert [entry["hostname"] for entry in compliance(site, state="breached")["backup_sets"]] == [
        "breached"
    ]


def test_a_level_0_older_than_its_objective_makes_the_set_late(site):
    backup(site, "host", age=40 * HOUR, level=0)
    backup(site, "host", age=HOUR, level=1)
    site.created(
        "objectives",
        {"max_age_seconds": 2 * HOUR, "max_level0_age_seconds": 24 * HOUR},
    )
    entry = by_host(compliance(site))["host"]
    assert entry["age_seconds"] == HOUR and entry["state"] == "late"


def test_restorable_means_a_whole_chain(site):
    backup(site, "host", age=10 * HOUR, level=0)
    backup(site, "host", age=HOUR, level=2)  # its level 1 is missing
    site.created("objectives", {"max_age_seconds": 2 * HOUR})
    entry = by_host(compliance(site))["host"]
    assert entry["age_seconds"] == 10 * HOUR and entry["state"] == "breached"


def test_time_passing_moves_a_set_from_met_to_breached(site, clock):
    backup(site, "host", age=0)
    site.created("objectives", {"max_age_seconds": HOUR})
    assert by_host(compliance(site))["host"]["state"] == "met"
    clock.now += HOUR + 1
    assert by_host(compliance(site))["host"]["state"] == "late"
    clock.now += HOUR
    assert by_host(compliance(site))["host"]["state"] == "breached"


def test_compliance_pages_by_set_and_filters_by_names(site):
    for number in range(5):
        backup(site, f"host{number}", age=HOUR)
    first = compliance(site, limit=2)
    assert len(first["backup_sets"]) == 2 and first["next"]
    seen = [entry["hostname"] for entry in first["backup_sets"]]
    marker = first["next"]
    while marker:
        page = compliance(site, limit=2, marker=marker)
        seen += [entry["hostname"] for entry in page["backup_sets"]]
        marker = page["next"]
    assert sorted(seen) == [f"host{number}" for number in range(5)]
    only = compliance(site, hostname="host3")["backup_sets"]
    assert [entry["hostname"] for entry in only] == ["host3"]


def test_another_project_sees_none_of_it(site):
    backup(site, "host", age=HOUR)
    objective_id = site.created("objectives", {"max_age_seconds": HOUR})
    other = V2(site.client, "p2", user_id="u2")
    assert compliance(other)["backup_sets"] == []
    assert other.get(f"objectives/{objective_id}").status_code == 404
    foreign = site.client.simulate_get(
        "/v2/p1/compliance",
        headers={"X-User-Id": "u2", "X-Project-Id": "p2", "X-Roles": "member"},
    )
    assert foreign.status_code == 403
    assert site.get("compliance", headers={"X-Roles": "reader"}).status_code == 200


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("state=awful", "state is one of"),
        ("colour=red", "Unknown query parameter"),
        ("limit=-1", "whole number"),
    ],
)
def test_bad_compliance_parameters_are_refused(site, query, message):
    site.refused("compliance", query, message)
