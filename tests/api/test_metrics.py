# SPDX-License-Identifier: Apache-2.0
"""``/metrics``: the server's counters and the catalogue's gauges, and who may read them."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import falcon.testing
from prometheus_client.parser import text_string_to_metric_families

from freezer_api.app import create_app
from freezer_api.config import build_conf
from tests.conftest import V2, make_backup, make_job


def scrape(
    client: falcon.testing.TestClient, **kwargs: Any
) -> dict[tuple[str, tuple[Any, ...]], float]:
    answer = client.simulate_get("/metrics", **{"remote_addr": "127.0.0.1", **kwargs})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[tuple[str, tuple[Any, ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def configured(settings: Any, tmp_path: Path, text: str) -> Any:
    path = tmp_path / "metrics.conf"
    path.write_text(text)
    return dataclasses.replace(settings, conf=build_conf(["--config-file", str(path)]))


def test_requests_are_counted_by_route_method_and_status(api, client):
    before = scrape(client)
    for _ in range(3):
        api.created("backups", make_backup())
    assert api.get("backups/nothing-here").status_code == 404
    after = scrape(client)
    route = "/v2/{project_id}/backups"
    created = dict(route=route, method="POST", status="201")
    assert (
        value(after, "freezer_api_requests_total", **created)
        - value(before, "freezer_api_requests_total", **created)
        == 3
    )
    missing = dict(route="/v2/{project_id}/backups/{doc_id}", method="GET", status="404")
    assert (
        value(after, "freezer_api_requests_total", **missing)
        - value(before, "freezer_api_requests_total", **missing)
        == 1
    )
    latency = dict(route=route, method="POST")
    assert (
        value(after, "freezer_api_request_duration_seconds_count", **latency)
        - value(before, "freezer_api_request_duration_seconds_count", **latency)
        == 3
    )
    # no project id or user data in the server's own labels
    assert not any("project-a" in str(labels) for _, labels in after if labels)


def test_the_catalogue_gauges_describe_sets_objectives_clients_and_jobs(settings, storage):
    now = int(time.time())
    settings = dataclasses.replace(settings, lease_seconds=900)
    client = falcon.testing.TestClient(create_app(settings, storage))
    api = V2(client, "p1")
    api.created("backups", make_backup(hostname="db1", time_stamp=now - 5400))
    api.created("backups", make_backup(hostname="web1", time_stamp=now - 60))
    api.created("objectives", {"selector": {"hostname": "db1"}, "max_age_seconds": 3600})
    client_id = api.register("sched-1")
    job_id = api.created("jobs", make_job(client_id))
    api.patch(f"jobs/{job_id}", {"job_schedule": {"status": "running"}})
    samples = scrape(client)
    db1 = dict(project_id="p1", hostname="db1", backup_name="etc", container="freezer_container")
    web1 = {**db1, "hostname": "web1"}
    restorable = "freezer_backup_set_last_restorable_timestamp_seconds"
    assert value(samples, restorable, **db1) == now - 5400
    assert value(samples, restorable, **web1) == now - 60
    state = "freezer_backup_set_objective_state"
    assert value(samples, state, **db1, state="late") == 1
    assert value(samples, state, **web1, state="uncovered") == 1
    seen = value(samples, "freezer_client_last_seen_timestamp_seconds", project_id="p1",
                 client_id=client_id)  # fmt: skip
    assert abs(seen - now) < 60
    assert value(samples, "freezer_jobs", project_id="p1", status="running") == 1
    assert value(samples, "freezer_jobs_stale", project_id="p1") == 0


def test_remote_callers_need_the_token_or_the_operators_leave(settings, storage, tmp_path):
    plain = falcon.testing.TestClient(create_app(settings, storage))
    for kwargs in (
        {"remote_addr": "10.1.2.3"},
        {"headers": {"X-Forwarded-For": "10.1.2.3"}},
        {"headers": {"Forwarded": "for=10.1.2.3"}},
    ):
        refused = plain.simulate_get("/metrics", **kwargs)
        assert refused.status_code == 403, refused.text
        assert "bearer token" in refused.json["description"]
    assert plain.simulate_get("/metrics", remote_addr="::1").status_code == 200
    assert plain.simulate_post("/metrics", remote_addr="127.0.0.1").status_code == 405
    tokened = falcon.testing.TestClient(
        create_app(configured(settings, tmp_path, "[metrics]\ntoken = s3cret\n"), storage)
    )
    wrong = {"Authorization": "Bearer guess"}
    assert (
        tokened.simulate_get("/metrics", remote_addr="10.1.2.3", headers=wrong).status_code == 403
    )
    right = {"Authorization": "Bearer s3cret"}
    assert (
        tokened.simulate_get("/metrics", remote_addr="10.1.2.3", headers=right).status_code == 200
    )
    anyone = falcon.testing.TestClient(
        create_app(configured(settings, tmp_path, "[metrics]\nallow_remote = true\n"), storage)
    )
    assert anyone.simulate_get("/metrics", remote_addr="10.1.2.3").status_code == 200
    off = falcon.testing.TestClient(
        create_app(configured(settings, tmp_path, "[metrics]\nenabled = false\n"), storage)
    )
    assert off.simulate_get("/metrics", remote_addr="127.0.0.1").status_code == 404


def test_a_silent_schedulers_running_job_is_counted_stale(settings, storage):
    @dataclasses.dataclass
    class Clock:
        now: float

        def __call__(self) -> float:
            return self.now

    clock = Clock(1_800_000_000.0)
    api = V2(falcon.testing.TestClient(create_app(settings, storage, clock=clock)), "p1")
    client_id = api.register("sched-1")
    job_id = api.created("jobs", make_job(client_id))
    api.patch(f"jobs/{job_id}", {"job_schedule": {"status": "running"}})
    clock.now += settings.lease_seconds + 1
    later = falcon.testing.TestClient(create_app(settings, storage, clock=clock))
    samples = scrape(later)
    assert value(samples, "freezer_jobs_stale", project_id="p1") == 1
    assert value(samples, "freezer_client_last_seen_timestamp_seconds", project_id="p1",
                 client_id=client_id) == 1_800_000_000  # fmt: skip
