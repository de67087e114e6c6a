# SPDX-License-Identifier: Apache-2.0
"""Real Keystone tokens: authentication, policy, central-scheduler trusts and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import make_action, make_backup
from tests.keystone.conftest import TOKEN_LIFETIME, USERS, Keystone, call
from tests.processes import BIN

pytestmark = pytest.mark.slow


@pytest.fixture
def project(keystone: Keystone):
    return keystone.project_ids


@pytest.fixture(scope="module")
def aging_token(keystone: Keystone, freezer_url: str) -> tuple[str, str, float]:
    """A reader's token, taken (and accepted) at the module's first test: its last test
    waits for what remains of the token's lifetime, not for all of it."""
    token = keystone.token("alpha_reader")
    path = f"/v2/{keystone.project_ids['alpha']}/backups"
    assert call(freezer_url, "GET", path, token).status_code == 200
    return token, path, time.monotonic()


def test_no_invalid_or_revoked_token_is_401(keystone, freezer_url, project, aging_token):
    path = f"/v2/{project['alpha']}/backups"
    for token in (None, "not-a-token"):
        refused = call(freezer_url, "GET", path, token)
        assert refused.status_code == 401
        assert refused.json()["title"] == "Unauthorized"
        assert refused.headers["WWW-Authenticate"].startswith("Keystone uri=")
    token = keystone.token("alpha_member")
    assert call(freezer_url, "GET", path, token).status_code == 200
    revoked = keystone.session("admin").delete(
        f"{keystone.url}/v3/auth/tokens", headers={"X-Subject-Token": token}
    )
    assert revoked.status_code == 204
    assert call(freezer_url, "GET", path, token).status_code == 401


def test_versions_healthcheck_and_openapi_need_no_token(freezer_url):
    assert call(freezer_url, "GET", "/").status_code == 300
    assert call(freezer_url, "GET", "/healthcheck").status_code == 200
    for version in ("v1", "v2"):
        described = call(freezer_url, "GET", f"/{version}/openapi.json")
        assert described.status_code == 200
        assert described.json()["info"]["version"] == version
    assert call(freezer_url, "GET", "/v2").status_code == 401
    assert call(freezer_url, "GET", "/v2/openapi.json/backups").status_code == 401


def test_members_write_readers_read_others_are_refused(keystone, freezer_url, project):
    alpha, beta = project["alpha"], project["beta"]
    member, reader = keystone.token("alpha_member"), keystone.token("alpha_reader")
    outsider = keystone.token("beta_member")
    created = call(freezer_url, "POST", f"/v2/{alpha}/backups", member, json=make_backup())
    assert created.status_code == 201
    backup_id = created.json()["backup_id"]
    stored = call(freezer_url, "GET", f"/v2/{alpha}/backups/{backup_id}", reader).json()
    assert stored["user_id"] == keystone.user_ids["alpha_member"]
    assert stored["project_id"] == alpha
    assert (
        call(freezer_url, "POST", f"/v2/{alpha}/backups", reader, json=make_backup()).status_code
        == 403
    )
    assert (
        call(freezer_url, "DELETE", f"/v2/{alpha}/backups/{backup_id}", reader).status_code == 403
    )
    assert call(freezer_url, "GET", f"/v2/{alpha}/backups", outsider).status_code == 403
    assert call(freezer_url, "GET", f"/v2/{beta}/backups/{backup_id}", outsider).status_code == 404
    assert (
        call(freezer_url, "DELETE", f"/v2/{beta}/backups/{backup_id}", outsider).status_code == 404
    )
    assert call(freezer_url, "GET", f"/v2/{alpha}/backups/{backup_id}", member).status_code == 200


def trust_token(keystone: Keystone, user: str, trust_id: str) -> str:
    """A token of ``user`` (the trustee) scoped to a trust, as the central scheduler gets."""
    who = USERS[user]
    identity: dict[str, Any] = {
        "methods": ["password"],
        "password": {
            "user": {"name": who.name, "password": who.password, "domain": {"id": "default"}}
        },
    }
    answer = requests.post(
        f"{keystone.url}/v3/auth/tokens",
        json={"auth": {"identity": identity, "scope": {"OS-TRUST:trust": {"id": trust_id}}}},
        timeout=60,
    )
    assert answer.status_code == 201, answer.text
    return str(answer.headers["X-Subject-Token"])


def trust_of(keystone: Keystone, trust_id: str) -> int:
    return keystone.admin("GET", f"/OS-TRUST/trusts/{trust_id}").status_code


def test_central_scheduler_jobs_carry_a_reused_trust(keystone, freezer_url, project):
    alpha = project["alpha"]
    member, admin = keystone.token("alpha_member"), keystone.token("admin")
    central = {"client_id": "central.example.org", "hostname": "central", "is_central": True}
    refused = call(freezer_url, "POST", f"/v2/{alpha}/clients", member, json=central)
    assert refused.status_code == 403
    registered = call(freezer_url, "POST", f"/v2/{project['admin']}/clients", admin, json=central)
    assert registered.status_code == 201

    job = {
        "client_id": "central.example.org",
        "job_actions": [{"freezer_action": make_action()}],
        "user_credentials": {"trust_id": "forged", "trustor_user_id": "someone"},
    }
    first = call(freezer_url, "POST", f"/v2/{alpha}/jobs", member, json=job).json()["job_id"]
    second = call(freezer_url, "POST", f"/v2/{alpha}/jobs", member, json=job).json()["job_id"]
    credentials = [
        call(freezer_url, "GET", f"/v2/{alpha}/jobs/{job_id}", member).json()["user_credentials"]
        for job_id in (first, second)
    ]
    assert credentials[0] == credentials[1]
    trust_id = credentials[0]["trust_id"]
    assert trust_id != "forged"
    assert credentials[0]["trustor_user_id"] == keystone.user_ids["alpha_member"]
    trust = keystone.admin("GET", f"/OS-TRUST/trusts/{trust_id}").json()["trust"]
    assert trust["trustee_user_id"] == keystone.user_ids["freezer"]
    assert trust["project_id"] == alpha

    # the central scheduler (the service user) polls every project for its client
    service = keystone.token("freezer")
    poll = {"match": [{"client_id": "central.example.org"}]}
    polled = call(
        freezer_url,
        "GET",
        f"/v2/{project['service']}/jobs?all_projects=true",
        service,
        json=poll,
    ).json()["jobs"]
    assert {j["job_id"] for j in polled} >= {first, second}

    # its own token reaches no project's backups; the owner's trust does, with the owner's
    # roles in the owner's project
    backup = make_backup(backup_name="central")
    mine = call(freezer_url, "POST", f"/v2/{alpha}/backups", service, json=backup)
    assert mine.status_code == 403
    assert call(freezer_url, "GET", f"/v2/{alpha}/backups", service).status_code == 403
    trusted = trust_token(keystone, "freezer", trust_id)
    created = call(freezer_url, "POST", f"/v2/{alpha}/backups", trusted, json=backup)
    assert created.status_code == 201, created.text
    stored = call(
        freezer_url, "GET", f"/v2/{alpha}/backups/{created.json()['backup_id']}", member
    ).json()
    assert stored["project_id"] == alpha
    assert stored["user_id"] == keystone.user_ids["freezer"]  # the trustee (X-User-Id)

    assert call(freezer_url, "DELETE", f"/v2/{alpha}/jobs/{first}", member).status_code == 204
    assert trust_of(keystone, trust_id) == 200
    assert call(freezer_url, "DELETE", f"/v2/{alpha}/jobs/{second}", member).status_code == 204
    assert trust_of(keystone, trust_id) == 404


def openstack_env(keystone: Keystone, user: str, **domains: str) -> dict[str, str]:
    """The environment of an OpenStack command line signing in as ``user``."""
    who = USERS[user]
    return {
        **os.environ,
        "OS_AUTH_URL": f"{keystone.url}/v3",
        "OS_USERNAME": who.name,
        "OS_PASSWORD": who.password,
        "OS_PROJECT_NAME": who.project,
        **domains,
    }


def freezer_cli(keystone: Keystone, user: str, *args: str) -> str:
    env = openstack_env(keystone, user, OS_USER_DOMAIN_ID="default", OS_PROJECT_DOMAIN_ID="default")
    result = subprocess.run(
        [str(BIN / "freezer"), *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_freezer_cli_with_a_keystone_token(keystone, freezer_url, project):
    alpha = project["alpha"]
    member = keystone.token("alpha_member")
    backup_id = call(
        freezer_url, "POST", f"/v2/{alpha}/backups", member, json=make_backup(backup_name="cli")
    ).json()["backup_id"]
    client_id = f"{alpha}_cli.example.org"
    call(freezer_url, "POST", f"/v2/{alpha}/clients", member, json={"client_id": client_id})
    job = {"client_id": client_id, "job_actions": [{"freezer_action": make_action()}]}
    job_id = call(freezer_url, "POST", f"/v2/{alpha}/jobs", member, json=job).json()["job_id"]
    session = call(freezer_url, "POST", f"/v2/{alpha}/sessions", member, json={"schedule": {}})
    session_id = session.json()["session_id"]

    assert backup_id in freezer_cli(keystone, "alpha_member", "backup-list")
    assert client_id in freezer_cli(keystone, "alpha_member", "client-list")
    assert job_id in freezer_cli(keystone, "alpha_member", "job-list", "--client", client_id)
    assert "backup" in freezer_cli(keystone, "alpha_member", "action-list")
    assert session_id in freezer_cli(keystone, "alpha_reader", "session-list")
    assert backup_id not in freezer_cli(keystone, "beta_member", "backup-list")


def test_the_freezer_cli_registers_real_host_names_and_builds_sessions(
    keystone, freezer_url, project, tmp_path
):
    """The CLI's own payloads, as files: ``socket.gethostname()`` names carry underscores."""
    alpha = project["alpha"]
    client_id = f"{alpha}_test-hostname_19544"
    files = {
        "client.json": {"client_id": client_id, "hostname": "test-hostname_19544"},
        "job.json": {
            "description": "cli job",
            "job_schedule": {"schedule_interval": "1 days"},
            "job_actions": [{"freezer_action": make_action(), "max_retries": 1}],
        },
        "session.json": {"description": "cli session", "schedule": {"schedule_interval": "2 days"}},
    }
    for name, document in files.items():
        (tmp_path / name).write_text(json.dumps(document))

    registered = freezer_cli(
        keystone, "alpha_member", "client-register", "--file", str(tmp_path / "client.json")
    )
    assert client_id in registered and "test-hostname_19544" in registered
    created = freezer_cli(
        keystone,
        "alpha_member",
        "job-create",
        "--file",
        str(tmp_path / "job.json"),
        "--client",
        client_id,
    )
    member = keystone.token("alpha_member")
    jobs = call(freezer_url, "GET", f"/v2/{alpha}/jobs", member).json()["jobs"]
    (job,) = [job for job in jobs if job["job_id"] in created]
    assert job["client_id"] == client_id
    freezer_cli(
        keystone, "alpha_member", "session-create", "--file", str(tmp_path / "session.json")
    )
    sessions = call(freezer_url, "GET", f"/v2/{alpha}/sessions", member).json()["sessions"]
    (session,) = [s for s in sessions if s["description"] == "cli session"]
    freezer_cli(
        keystone,
        "alpha_member",
        "session-add-job",
        "--session-id",
        session["session_id"],
        "--job-id",
        job["job_id"],
    )
    joined = call(freezer_url, "GET", f"/v2/{alpha}/jobs/{job['job_id']}", member).json()
    assert joined["session_id"] == session["session_id"]
    assert joined["job_schedule"]["schedule_interval"] == "2 days"


def test_an_expired_token_is_401(freezer_url, aging_token):
    """Last in the module: the token has aged while the tests above ran."""
    token, path, accepted_at = aging_token
    time.sleep(max(0.0, accepted_at + TOKEN_LIFETIME + 2 - time.monotonic()))
    assert call(freezer_url, "GET", path, token).status_code == 401


def run_agent(
    keystone: Keystone, user: str, *args: str, cwd: Path
) -> subprocess.CompletedProcess[str]:
    """The real freezer-agent 19.0.0, authenticated by the real Keystone."""
    env = openstack_env(
        keystone, user, OS_USER_DOMAIN_NAME="Default", OS_PROJECT_DOMAIN_NAME="Default"
    )
    return subprocess.run(
        [str(BIN / "freezer-agent"), *args, "--log-file", str(cwd / "agent.log")],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_agent_restores_the_restore_point_the_catalogue_gives(
    keystone, freezer_url, project, tmp_path
):
    """Back up a directory twice with the real agent into local storage, record each
    backup's metadata as the scheduler does, ask the catalogue for the restore point between
    the two, restore with the agent options it answers, and compare the files."""
    alpha = project["alpha"]
    member = keystone.token("alpha_member")
    source, store = tmp_path / "source", tmp_path / "store"
    source.mkdir()
    store.mkdir()
    host = f"agent-host-{time.monotonic_ns()}"
    times = []
    for version in ("first", "second"):
        (source / "data.txt").write_text(f"{version} version\n")
        (source / version).write_text(version)
        metadata_file = tmp_path / f"{version}.json"
        done = run_agent(
            keystone,
            "alpha_member",
            "--action", "backup", "--mode", "fs", "--storage", "local",
            "--path-to-backup", str(source), "--container", str(store),
            "--backup-name", "data", "--hostname", host,
            "--metadata-out", str(metadata_file),
            cwd=tmp_path,
        )  # fmt: skip
        assert done.returncode == 0, (tmp_path / "agent.log").read_text()[-3000:]
        metadata = json.loads(metadata_file.read_text())
        created = call(freezer_url, "POST", f"/v2/{alpha}/backups", member, json=metadata)
        assert created.status_code == 201, created.text
        times.append(metadata["time_stamp"])
        time.sleep(1.1)  # the agent's time stamps are seconds
    between = (times[0] + times[1]) // 2 if times[1] > times[0] + 1 else times[0]
    answer = call(
        freezer_url,
        "GET",
        f"/v2/{alpha}/restore-points?hostname={host}&backup_name=data&at={between}",
        member,
    )
    assert answer.status_code == 200, answer.text
    point = answer.json()["restore_point"]
    assert point["time_stamp"] == times[0]
    options = point["agent_options"]
    assert options["restore_abs_path"] == str(source)
    target = tmp_path / "restored"
    target.mkdir()
    flags = []
    for key, value in {**options, "restore_abs_path": str(target)}.items():
        flags += [f"--{key.replace('_', '-')}", str(value)]
    restored = run_agent(keystone, "alpha_member", *flags, cwd=tmp_path)
    assert restored.returncode == 0, (tmp_path / "agent.log").read_text()[-3000:]
    assert (target / "data.txt").read_text() == "first version\n"
    assert (target / "first").exists() and not (target / "second").exists()


def test_the_real_scheduler_is_alive_while_it_runs_and_its_job_goes_stale_when_killed(
    keystone, project, tmp_path
):
    """Start the freezer 19.0.0 scheduler against a server with short liveness limits: it
    registers, polls and runs a long job (the server sees it alive, the job running and not
    stale); kill it: the client is no longer alive, and the job, still "running", is stale."""
    import signal

    from tests.keystone.conftest import freezer_site

    alpha = project["alpha"]
    limits = "[clients]\nalive_seconds = 10\n[jobs]\nlease_seconds = 12\n"
    (tmp_path / "site").mkdir()
    with freezer_site(keystone, tmp_path / "site", extra=limits, in_catalog=False) as base:
        client_id = f"scheduler-{time.monotonic_ns()}"
        env = openstack_env(
            keystone,
            "alpha_member",
            OS_USER_DOMAIN_ID="default",
            OS_PROJECT_DOMAIN_ID="default",
            OS_BACKUP_URL=base,
            PATH=f"{BIN}:{os.environ['PATH']}",
        )
        jobs_dir = tmp_path / "jobs"
        jobs_dir.mkdir()
        scheduler = subprocess.Popen(
            [
                str(BIN / "freezer-scheduler"),
                "--scheduler-no-daemon",
                "--scheduler-interval",
                "2",
                "--scheduler-jobs-dir",
                str(jobs_dir),
                "--scheduler-client-id",
                client_id,
                "--log-file",
                str(tmp_path / "scheduler.log"),
                "start",
            ],  # fmt: skip
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

        def get(path: str) -> Any:
            # NOTE: a token each time: they live 20 s here
            answer = call(base, "GET", f"/v2/{alpha}/{path}", keystone.token("alpha_member"))
            assert answer.status_code == 200, answer.text
            return answer.json()

        def wait_for(what: str, check: Any, seconds: float = 90) -> Any:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                found = check()
                if found:
                    return found
                assert scheduler.poll() is None or what.startswith("dead"), (
                    tmp_path / "scheduler.log"
                ).read_text()[-3000:]
                time.sleep(0.5)
            log = tmp_path / "scheduler.log"
            raise AssertionError(f"{what}: {log.read_text()[-3000:] if log.exists() else ''}")

        try:
            wait_for(
                "registered and alive",
                lambda: any(
                    entry["client"]["client_id"] == client_id and entry["alive"]
                    for entry in get("clients?liveness=true")["clients"]
                ),
            )
            long_job = {
                "client_id": client_id,
                "description": "a long job",
                "job_actions": [{"freezer_action": {"action": "exec", "command": "sleep 300"}}],
            }
            member = keystone.token("alpha_member")
            created = call(base, "POST", f"/v2/{alpha}/jobs", member, json=long_job)
            assert created.status_code == 201, created.text
            job_id = created.json()["job_id"]
            running = wait_for(
                "the scheduler runs the job",
                lambda: [
                    job
                    for job in get("jobs?liveness=true")["jobs"]
                    if job["job_id"] == job_id and job["job_schedule"].get("status") == "running"
                ],
            )
            assert running[0]["stale"] is False
            assert get("jobs?stale=true")["jobs"] == []
            time.sleep(12)  # beyond the lease, while the scheduler keeps polling
            assert get("jobs?stale=true")["jobs"] == []
            assert get(f"clients/{client_id}?liveness=true")["alive"] is True
        finally:
            os.killpg(scheduler.pid, signal.SIGKILL)
            scheduler.wait(timeout=30)
        wait_for(
            "dead: the client is not alive",
            lambda: get(f"clients/{client_id}?liveness=true")["alive"] is False,
        )
        stale = wait_for("dead: the job is stale", lambda: get("jobs?stale=true")["jobs"])
        assert [job["job_id"] for job in stale] == [job_id]
        assert stale[0]["job_schedule"]["status"] == "running"  # nothing else changed
