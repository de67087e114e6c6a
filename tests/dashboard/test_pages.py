# SPDX-License-Identifier: Apache-2.0
"""The dashboard's pages, through the real app on every engine: what each shows, paging,
policy and scope, and escaping."""

from __future__ import annotations

import html
import re
from typing import Any

import falcon.testing
import markupsafe
import pytest

from freezer_api.app import create_app
from tests.conftest import make_backup, make_job, make_settings

BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def caller(user: str, project: str, roles: str = "member,reader") -> dict[str, str]:
    return {**BROWSER, "X-User-Id": user, "X-Project-Id": project, "X-Roles": roles}


ANN = caller("ann", "p1")
BOB = caller("bob", "p2")


@pytest.fixture
def paged(settings, storage) -> falcon.testing.TestClient:
    """The app with dashboard pages of two rows."""
    small = make_settings(settings.database_url, dashboard_page_size=2)
    return falcon.testing.TestClient(create_app(small, storage))


def backup(client, headers: dict[str, str], **fields: Any) -> str:
    answer = client.simulate_post(
        f"/v2/{headers['X-Project-Id']}/backups", json=make_backup(**fields), headers=headers
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json["backup_id"])


def page(client, path: str, headers: dict[str, str] = ANN, status: int = 200) -> str:
    answer = client.simulate_get(path, headers=headers)
    assert answer.status_code == status, answer.text[:2000]
    assert answer.headers["content-type"].startswith("text/html")
    return answer.text


def rows(text: str) -> list[str]:
    return re.findall(r"<tr[ >].*?</tr>", text, flags=re.S)[1:]


def test_every_page_shows_the_projects_catalogue(client):
    full = backup(client, ANN, curr_backup_level=0, time_stamp=1_700_000_000)
    backup(client, ANN, curr_backup_level=1, time_stamp=1_700_000_100, backup_size_compressed=42)
    assert (
        client.simulate_post(
            "/v2/p1/clients", json={"client_id": "sched-1"}, headers=ANN
        ).status_code
        == 201
    )
    job = client.simulate_post("/v2/p1/jobs", json=make_job("sched-1"), headers=ANN).json["job_id"]
    session = client.simulate_post(
        "/v2/p1/sessions", json={"schedule": {}, "description": "nightly"}, headers=ANN
    ).json["session_id"]

    overview = page(client, "/dashboard/")
    assert "host1.example.org" in overview and "uncovered" in overview
    assert "2023-11-14 22:15:00Z" in overview  # the last restorable backup's time
    one_set = page(client, "/dashboard/set?hostname=host1.example.org&backup_name=etc")
    assert full in one_set and "restorable" in one_set and "42" in one_set
    assert 'data-sized="true"' in one_set and '"size": [null, 42]' in one_set
    clients = page(client, "/dashboard/clients")
    assert "sched-1" in clients and "alive" in clients
    assert job in page(client, "/dashboard/jobs")
    assert session in page(client, "/dashboard/sessions") and "nightly" in page(
        client, "/dashboard/sessions"
    )
    events = page(client, "/dashboard/events")
    assert events.index(session) < events.index(full)  # newest first
    found = page(client, f"/dashboard/search?q={full}")
    assert full in found and len(rows(found)) == 1
    assert "No backup has" in page(client, "/dashboard/search?q=nothing-of-the-kind")


def test_pages_are_not_cached_framed_or_scripted_from_elsewhere(client):
    answer = client.simulate_get("/dashboard/", headers=ANN)
    assert answer.headers["cache-control"] == "no-store"
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    assert answer.headers["x-frame-options"] == "DENY"


def test_a_broken_chain_is_shown_as_broken(client):
    backup(client, ANN, curr_backup_level=0, time_stamp=1_700_000_000)
    failed = backup(client, ANN, curr_backup_level=1, time_stamp=1_700_000_100, status="error")
    orphan = backup(client, ANN, curr_backup_level=2, time_stamp=1_700_000_200)
    text = page(client, "/dashboard/set?hostname=host1.example.org&backup_name=etc")
    by_id = {
        backup_id: row for row in rows(text) for backup_id in (failed, orphan) if backup_id in row
    }
    assert "broken" in by_id[orphan] and 'class="broken"' in by_id[orphan]
    assert "broken" in by_id[failed]
    assert sum('class="restorable"' in row for row in rows(text)) == 1


def test_lists_are_paged_on_the_server(paged):
    made = [backup(paged, ANN, curr_backup_level=0, time_stamp=1_700_000_000 + n) for n in range(5)]
    seen: list[str] = []
    path = "/dashboard/set?hostname=host1.example.org&backup_name=etc"
    for _ in range(5):
        text = page(paged, path)
        seen += [backup_id for row in rows(text) for backup_id in made if backup_id in row]
        found = re.search(r'class="next" href="([^"]+)"', text)
        if found is None:
            break
        path = html.unescape(found.group(1))
    assert seen == list(reversed(made))
    events = page(paged, "/dashboard/events")
    assert len(rows(events)) == 2 and 'class="next"' in events


def test_another_projects_pages_are_refused_and_show_none_of_it(client):
    secret = backup(client, ANN, backup_name="secret-name")
    for path in (
        "/dashboard/",
        "/dashboard/events",
        "/dashboard/jobs",
        f"/dashboard/search?q={secret}",
    ):
        text = page(client, f"{path}{'&' if '?' in path else '?'}project=p1", BOB, status=403)
        assert secret not in text and "secret-name" not in text
    # in its own project, the other caller finds nothing of it
    assert rows(page(client, f"/dashboard/search?q={secret}", BOB)) == []
    assert "secret-name" not in page(client, "/dashboard/", BOB)


def test_an_administrator_may_switch_projects(client):
    secret = backup(client, ANN, backup_name="secret-name")
    admin = caller("root", "admin-project", "admin")
    own = page(client, "/dashboard/", admin)
    assert 'name="project"' in own and "secret-name" not in own
    switched = page(client, "/dashboard/?project=p1", admin)
    assert "secret-name" in switched
    assert "project=p1" in switched  # the navigation stays in the project
    assert secret in page(client, f"/dashboard/search?q={secret}&project=p1", admin)


def test_a_caller_without_a_role_sees_no_page(client):
    backup(client, ANN)
    assert "host1.example.org" not in page(
        client, "/dashboard/", caller("eve", "p1", "nobody"), 403
    )


def test_hostile_names_are_escaped(client):
    hostile = '<script>alert("x")</script>'
    backup(client, ANN, backup_name=hostile, hostname=f"h{hostile}")
    for path in ("/dashboard/", f"/dashboard/search?q={hostile}"):
        text = page(client, path)
        assert hostile not in text and str(markupsafe.escape(hostile)) in text


def test_bad_parameters_are_a_400_page(client):
    assert "is not one this page gave" in page(client, "/dashboard/events?before=x", status=400)
    assert "state" in page(client, "/dashboard/?state=bogus", status=400)
    page(client, "/dashboard/set?hostname=h&backup_name=b&marker=oops", status=400)
    page(client, "/dashboard/set?hostname=nowhere&backup_name=b", status=404)


def test_the_assets_ship_with_the_package(client):
    for asset, kind in (
        ("dashboard.css", "text/css"),
        ("uPlot.iife.min.js", "javascript"),
        ("timeline.js", "javascript"),
    ):
        answer = client.simulate_get(f"/dashboard/static/{asset}")
        assert answer.status_code == 200 and kind in answer.headers["content-type"]


def test_the_dashboard_can_be_turned_off(settings, storage):
    off = falcon.testing.TestClient(
        create_app(make_settings(settings.database_url, dashboard=False), storage)
    )
    assert off.simulate_get("/dashboard/", headers=ANN).status_code == 404


def test_the_forms_cookie_is_secure_over_tls_only(client):
    """The sign-in form's CSRF cookie (and the session's, set the same way): HttpOnly,
    SameSite=Strict, path /dashboard, and Secure when the request came over TLS."""
    for protocol, secure in (("https", True), ("http", False)):
        answer = client.simulate_get("/dashboard/login", protocol=protocol, headers=BROWSER)
        assert answer.status_code == 200
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith("freezer_csrf=")
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/dashboard" in cookie
        assert ("Secure" in cookie) == secure
