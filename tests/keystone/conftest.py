# SPDX-License-Identifier: Apache-2.0
"""A real Keystone (PyPI ``keystone`` on SQLite, in its own virtualenv) and a freezer-api
process that validates its tokens.

``make test`` creates the virtualenv (``.venv-keystone``); ``FREEZER_TEST_KEYSTONE_VENV``
names another one.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from tests.processes import BIN, free_port, running

ROOT = Path(__file__).resolve().parents[2]
KEYSTONE_VENV = Path(os.environ.get("FREEZER_TEST_KEYSTONE_VENV", ROOT / ".venv-keystone"))
#: short-lived tokens, so that one test can watch a token expire
TOKEN_LIFETIME = 20
ADMIN_PASSWORD = "admin-secret"
SERVICE_PASSWORD = "freezer-secret"


@dataclasses.dataclass(frozen=True)
class User:
    name: str
    password: str
    project: str


USERS = {
    "admin": User("admin", ADMIN_PASSWORD, "admin"),
    "freezer": User("freezer", SERVICE_PASSWORD, "service"),
    "alpha_member": User("alpha_member", "alpha-member-secret", "alpha"),
    "alpha_reader": User("alpha_reader", "alpha-reader-secret", "alpha"),
    "beta_member": User("beta_member", "beta-member-secret", "beta"),
}
ROLES = {
    "freezer": "service",
    "alpha_member": "member",
    "alpha_reader": "reader",
    "beta_member": "member",
}


@dataclasses.dataclass
class Keystone:
    url: str
    project_ids: dict[str, str]
    user_ids: dict[str, str]

    def session(self, user: str) -> ks_session.Session:
        who = USERS[user]
        auth = v3.Password(
            auth_url=f"{self.url}/v3",
            username=who.name,
            password=who.password,
            project_name=who.project,
            user_domain_id="default",
            project_domain_id="default",
        )
        return ks_session.Session(auth=auth)

    def token(self, user: str) -> str:
        token = self.session(user).get_token()
        assert token
        return str(token)

    def admin(self, method: str, path: str, json: Any = None) -> Any:
        return self.session("admin").request(
            f"{self.url}/v3{path}", method, json=json, raise_exc=False
        )


def _manage(conf: Path, *args: str) -> None:
    subprocess.run(
        [str(KEYSTONE_VENV / "bin" / "keystone-manage"), "--config-file", str(conf), *args],
        check=True,
        capture_output=True,
        timeout=300,
    )


def _provision(site: Keystone) -> None:
    roles = {role["name"]: role["id"] for role in site.admin("GET", "/roles").json()["roles"]}
    if "service" not in roles:
        created = site.admin("POST", "/roles", {"role": {"name": "service"}}).json()
        roles["service"] = created["role"]["id"]
    projects = {p["name"]: p["id"] for p in site.admin("GET", "/projects").json()["projects"]}
    for name in ("service", "alpha", "beta"):
        body = {"project": {"name": name, "domain_id": "default"}}
        projects[name] = site.admin("POST", "/projects", body).json()["project"]["id"]
    site.project_ids.update(projects)
    users = {u["name"]: u["id"] for u in site.admin("GET", "/users").json()["users"]}
    for name, role in ROLES.items():
        who = USERS[name]
        body = {"user": {"name": name, "password": who.password, "domain_id": "default"}}
        users[name] = site.admin("POST", "/users", body).json()["user"]["id"]
        path = f"/projects/{projects[who.project]}/users/{users[name]}/roles/{roles[role]}"
        assert site.admin("PUT", path).status_code == 204
    site.user_ids.update(users)


@contextlib.contextmanager
def keystone_site(directory: Path, token_lifetime: int = TOKEN_LIFETIME) -> Iterator[Keystone]:
    """A Keystone on a free loopback port, with the users of ``USERS``, until the block ends."""
    if not (KEYSTONE_VENV / "bin" / "keystone-manage").exists():
        raise RuntimeError(f"no Keystone virtualenv at {KEYSTONE_VENV}: run 'make test'")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    conf = directory / "keystone.conf"
    conf.write_text(
        f"[database]\nconnection = sqlite:///{directory / 'keystone.db'}\n"
        f"[token]\nprovider = fernet\nexpiration = {token_lifetime}\n"
        f"[fernet_tokens]\nkey_repository = {directory / 'fernet-keys'}\n"
        f"[fernet_receipts]\nkey_repository = {directory / 'fernet-receipts'}\n"
        f"[credential]\nkey_repository = {directory / 'credential-keys'}\n"
        "[identity]\npassword_hash_rounds = 4\n"
    )
    # NOTE: the three set-up steps touch different files: run side by side, as each
    # spends most of its 2-3 s importing keystone.
    owner = ("--keystone-user", "root", "--keystone-group", "root")
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        steps = [
            pool.submit(_manage, conf, "db_sync"),
            pool.submit(_manage, conf, "fernet_setup", *owner),
            pool.submit(_manage, conf, "credential_setup", *owner),
        ]
        for step in steps:
            step.result()
    _manage(
        conf,
        "bootstrap",
        "--bootstrap-password",
        ADMIN_PASSWORD,
        "--bootstrap-public-url",
        f"{url}/v3",
        "--bootstrap-region-id",
        "RegionOne",
    )
    argv = [
        str(KEYSTONE_VENV / "bin" / "gunicorn"),
        "--chdir",
        str(Path(__file__).parent),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "2",
        "--threads",
        "4",
        "keystone_wsgi:application",
    ]
    env = {"OS_KEYSTONE_CONFIG_FILES": str(conf)}
    with running(argv, f"{url}/v3", directory / "keystone.log", env=env, timeout=120):
        site = Keystone(url=url, project_ids={}, user_ids={})
        _provision(site)
        yield site


@contextlib.contextmanager
def freezer_site(
    keystone: Keystone,
    directory: Path,
    port: int | None = None,
    *,
    extra: str = "",
    in_catalog: bool = True,
) -> Iterator[str]:
    """freezer-api with auth_strategy = keystone, in the catalog as service type "backup"
    (unless not ``in_catalog``: its callers name it by URL); ``extra`` ends its config."""
    port = port or free_port()
    base = f"http://127.0.0.1:{port}"
    conf = directory / "freezer-api.conf"
    conf.write_text(
        f"[DEFAULT]\nauth_strategy = keystone\nbind_port = {port}\nworkers = 2\n"
        f"[database]\nconnection = sqlite:///{directory / 'freezer.db'}\n"
        "[keystone_authtoken]\n"
        f"www_authenticate_uri = {keystone.url}/v3\nauth_url = {keystone.url}/v3\n"
        "auth_type = password\nusername = freezer\ninterface = public\n"
        # NOTE: so that a revoked token is refused at once (by default, after 5 minutes)
        "token_cache_time = -1\n"
        f"password = {SERVICE_PASSWORD}\nproject_name = service\n"
        "user_domain_id = default\nproject_domain_id = default\n"
        f"[healthcheck]\ndisable_by_file_path = {directory / 'healthcheck_disable'}\n"
        f"{extra}"
    )
    if in_catalog:
        register_in_catalog(keystone, base)
    with running(
        [str(BIN / "freezer-api"), "--config-file", str(conf)], f"{base}/", directory / "log"
    ):
        yield base


def register_in_catalog(keystone: Keystone, base: str) -> None:
    service = keystone.admin(
        "POST", "/services", {"service": {"type": "backup", "name": "freezer"}}
    ).json()["service"]
    endpoint = {
        "service_id": service["id"],
        "interface": "public",
        "url": base,
        "region_id": "RegionOne",
    }
    assert keystone.admin("POST", "/endpoints", {"endpoint": endpoint}).status_code == 201


@pytest.fixture(scope="session")
def keystone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keystone]:
    if not (KEYSTONE_VENV / "bin" / "keystone-manage").exists():
        pytest.fail(f"no Keystone virtualenv at {KEYSTONE_VENV}: run 'make test'")
    with keystone_site(tmp_path_factory.mktemp("keystone")) as site:
        yield site


@pytest.fixture(scope="session")
def freezer_url(keystone: Keystone, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with freezer_site(keystone, tmp_path_factory.mktemp("freezer-keystone")) as base:
        yield base


def call(base: str, method: str, path: str, token: str | None = None, **kwargs: Any) -> Any:
    headers = {"X-Auth-Token": token} if token else {}
    return requests.request(method, f"{base}{path}", headers=headers, timeout=30, **kwargs)
