# SPDX-License-Identifier: Apache-2.0
"""The dashboard in a real browser (Debian's Chromium, driven by Playwright) against a
freezer-api that validates real Keystone tokens: sign-in, every page, paging, a broken chain,
another project's data, an administrator switching projects, revocation and sign-out.

The pages are photographed into ``$FREEZER_SCREENSHOTS`` (else the test's directory); the
README shows those of ``docs/screenshots``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import make_backup, make_job
from tests.keystone.conftest import USERS, Keystone, call, freezer_site

pytestmark = pytest.mark.slow

CHROMIUM = Path(os.environ.get("FREEZER_TEST_CHROMIUM", "/usr/bin/chromium"))
#: what a headless Chromium needs here: no sandbox (root), and no calls to Google's hosts
#: (this machine's network refuses them)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: run 'make services' (Debian's chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def site(keystone: Keystone, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A freezer-api of its own, with dashboard pages of three rows, and a catalogue."""
    directory = tmp_path_factory.mktemp("dashboard")
    extra = "[dashboard]\npage_size = 3\n"
    with freezer_site(keystone, directory, extra=extra, in_catalog=False) as base:
        seed(keystone, base)
        yield base


def seed(keystone: Keystone, base: str) -> None:
    """Project alpha: a set with a good chain, then a failed incremental and one after it,
    a scheduler, a job and a session; project beta: a set of its own."""
    alpha = keystone.project_ids["alpha"]
    token = keystone.token("alpha_member")
    start = 1_764_000_000
    documents = [
        make_backup(curr_backup_level=0, time_stamp=start, backup_size_compressed=5_000_000),
        make_backup(curr_backup_level=1, time_stamp=start + 3600, backup_size_compressed=400_000),
        make_backup(curr_backup_level=2, time_stamp=start + 7200, backup_size_compressed=250_000),
        make_backup(
            curr_backup_level=0, time_stamp=start + 86400, backup_size_compressed=5_100_000
        ),
        make_backup(
            curr_backup_level=1, time_stamp=start + 90000, status="error", backup_size_compressed=0
        ),
        make_backup(curr_backup_level=2, time_stamp=start + 93600, backup_size_compressed=300_000),
        make_backup(backup_name="var-lib", curr_backup_level=0, time_stamp=start + 1000),
    ]
    for document in documents:
        made = call(base, "POST", f"/v2/{alpha}/backups", token, json=document)
        assert made.status_code == 201, made.text
    client = {"client_id": "alpha-scheduler", "hostname": "host1.example.org"}
    assert call(base, "POST", f"/v2/{alpha}/clients", token, json=client).status_code == 201
    job = call(base, "POST", f"/v2/{alpha}/jobs", token, json=make_job("alpha-scheduler"))
    assert job.status_code == 201
    objective = {"selector": {"backup_name": "etc"}, "max_age_seconds": 30 * 86400}
    assert call(base, "POST", f"/v2/{alpha}/objectives", token, json=objective).status_code == 201
    session = {"schedule": {}, "description": "nightly session"}
    assert call(base, "POST", f"/v2/{alpha}/sessions", token, json=session).status_code == 201
    beta = keystone.project_ids["beta"]
    secret = make_backup(backup_name="beta-only", hostname="beta-host.example.org")
    made = call(base, "POST", f"/v2/{beta}/backups", keystone.token("beta_member"), json=secret)
    assert made.status_code == 201


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    opened = context.new_page()
    yield opened
    context.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    wanted = os.environ.get("FREEZER_SCREENSHOTS")
    directory = Path(wanted) if wanted else tmp_path_factory.mktemp("screenshots")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def sign_in(page: Page, base: str, user: str, project: str | None = None) -> None:
    who = USERS[user]
    page.goto(f"{base}/dashboard/")
    expect(page).to_have_url(f"{base}/dashboard/login")
    page.fill("input[name=username]", who.name)
    page.fill("input[name=password]", who.password)
    page.fill("input[name=project]", project or who.project)
    page.click("form.signin button[type=submit]")


def test_sign_in_every_page_paging_and_sign_out(page: Page, site: str, shots: Path, keystone):
    page.goto(f"{site}/dashboard/login")
    page.screenshot(path=str(shots / "sign-in.png"))
    sign_in(page, site, "alpha_reader")
    expect(page).to_have_url(f"{site}/dashboard")
    expect(page.locator("h1")).to_contain_text("Backup sets")
    expect(page.locator("table.sets tbody tr")).to_have_count(2)
    expect(page.locator("table.sets")).to_contain_text("host1.example.org")
    expect(page.locator("table.sets .state-breached")).to_have_count(1)
    expect(page.locator("table.sets .state-uncovered")).to_have_count(1)
    expect(page.locator("header")).to_contain_text("alpha_reader")
    page.screenshot(path=str(shots / "backup-sets.png"), full_page=True)

    cookie = {each["name"]: each for each in page.context.cookies()}["freezer_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and not cookie["secure"]
    assert cookie["path"] == "/dashboard"
    # it lives as long as the token (Keystone's here: 20 s)
    assert time.time() < cookie["expires"] <= time.time() + 25

    etc = page.locator("table.sets tbody tr").filter(has=page.locator("td:text-is('etc')"))
    etc.locator("a").click()
    expect(page.locator("h1")).to_contain_text("etc")
    expect(page.locator("table.chains tbody tr")).to_have_count(3)
    expect(page.locator("#timeline canvas").first).to_be_visible()
    assert page.locator("#timeline").get_attribute("data-drawn") == "3"
    broken = page.locator("table.chains tr.broken")
    expect(broken).to_have_count(2)
    expect(broken.first).to_contain_text("broken")
    expect(page.locator("table.chains tr.broken .problem").nth(1)).to_contain_text("error")
    page.screenshot(path=str(shots / "backup-set.png"), full_page=True)
    page.click("a.next")
    expect(page.locator("table.chains tbody tr")).to_have_count(3)
    expect(page.locator("table.chains tr.restorable")).to_have_count(3)
    expect(page.locator("a.next")).to_have_count(0)

    for target, text in (
        ("Clients", "alpha-scheduler"),
        ("Jobs", "nightly /etc"),
        ("Sessions", "nightly session"),
        ("Events", "sessions"),
    ):
        page.click(f"nav a:text('{target}')")
        expect(page.locator("main table")).to_contain_text(text)
        page.screenshot(path=str(shots / f"{target.lower()}.png"), full_page=True)
    expect(page.locator("table.events tbody tr")).to_have_count(3)
    page.click("a.next")
    expect(page.locator("table.events tbody tr")).to_have_count(3)

    page.fill("header input[name=q]", "var-lib")
    page.press("header input[name=q]", "Enter")
    expect(page.locator("table.backups tbody tr")).to_have_count(1)
    expect(page.locator("table.backups")).to_contain_text("var-lib")
    page.screenshot(path=str(shots / "search.png"), full_page=True)

    token = cookie["value"]
    page.click("button.signout")
    expect(page).to_have_url(f"{site}/dashboard/login?said=out")
    expect(page.locator(".message")).to_contain_text("signed out")
    assert "freezer_session" not in {each["name"] for each in page.context.cookies()}
    # the token was revoked at Keystone: the API refuses it too
    assert (
        call(site, "GET", f"/v2/{keystone.project_ids['alpha']}/backups", token).status_code == 401
    )
    page.goto(f"{site}/dashboard/jobs")
    expect(page).to_have_url(f"{site}/dashboard/login")
    taken = {path.name for path in shots.glob("*.png")}
    assert {"sign-in.png", "backup-sets.png", "backup-set.png", "jobs.png", "search.png"} <= taken


def test_a_member_of_another_project_sees_none_of_it(page: Page, site: str, keystone):
    sign_in(page, site, "beta_member")
    expect(page.locator("table.sets")).to_contain_text("beta-host.example.org")
    expect(page.locator("main")).not_to_contain_text("host1.example.org")
    page.goto(f"{site}/dashboard/?project={keystone.project_ids['alpha']}")
    expect(page.locator("h1")).to_contain_text("403")
    expect(page.locator("main")).not_to_contain_text("host1.example.org")
    page.goto(f"{site}/dashboard/search?q=etc")
    expect(page.locator("main")).not_to_contain_text("host1.example.org")


def test_an_administrator_switches_projects(page: Page, site: str, keystone, shots: Path):
    sign_in(page, site, "admin")
    expect(page.locator("main")).not_to_contain_text("host1.example.org")
    page.fill("form.switch input[name=project]", keystone.project_ids["alpha"])
    page.click("form.switch button")
    expect(page.locator("table.sets")).to_contain_text("host1.example.org")
    page.click("nav a:text('Jobs')")
    expect(page.locator("main table")).to_contain_text("nightly /etc")


def test_a_refused_sign_in_says_so(page: Page, site: str):
    page.goto(f"{site}/dashboard/login")
    page.fill("input[name=username]", "alpha_member")
    page.fill("input[name=password]", "not-the-password")
    page.fill("input[name=project]", "alpha")
    page.click("form.signin button[type=submit]")
    expect(page.locator(".message")).to_contain_text("refused")
    assert "freezer_session" not in {each["name"] for each in page.context.cookies()}


def test_a_revoked_session_goes_back_to_the_sign_in_form(page: Page, site: str, keystone):
    sign_in(page, site, "alpha_member")
    expect(page.locator("table.sets")).to_be_visible()
    token = {each["name"]: each for each in page.context.cookies()}["freezer_session"]["value"]
    revoked = keystone.session("admin").request(
        f"{keystone.url}/v3/auth/tokens", "DELETE", headers={"X-Subject-Token": token}
    )
    assert revoked.status_code == 204
    page.goto(f"{site}/dashboard/clients")
    expect(page).to_have_url(f"{site}/dashboard/login?said=expired")
    expect(page.locator(".message")).to_contain_text("session ended")


def test_forms_without_their_csrf_token_are_refused(site: str, keystone):
    who = USERS["alpha_member"]
    form = {"username": who.name, "password": who.password, "project": who.project}
    forged = requests.post(f"{site}/dashboard/login", data=form, timeout=30)
    assert forged.status_code == 400 and "freezer_session" not in forged.cookies
    session = requests.Session()
    login = session.get(f"{site}/dashboard/login", timeout=30)
    csrf = login.cookies["freezer_csrf"]
    signed = session.post(
        f"{site}/dashboard/login", data={**form, "csrf": csrf}, timeout=30, allow_redirects=False
    )
    assert signed.status_code == 303 and "freezer_session" in session.cookies
    out = session.post(f"{site}/dashboard/logout", data={"csrf": "forged"}, timeout=30)
    assert out.status_code == 400
    # still signed in
    assert session.get(f"{site}/dashboard/", timeout=30, allow_redirects=False).status_code == 200
