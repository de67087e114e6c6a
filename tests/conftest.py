# SPDX-License-Identifier: Apache-2.0
"""Shared fixtures: real SQLite databases, the real app, small document factories."""

from __future__ import annotations

import importlib.util
import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import falcon.testing
import hypothesis
import pytest
from sqlalchemy.engine import make_url

from freezer_api.app import create_app, storage_options
from freezer_api.config import Settings
from freezer_api.storage import open_storage
from freezer_api.storage.base import Storage
from freezer_api.storage.sql import migrate
from tests import throwaway

_timestamps = itertools.count(1_700_000_000)


def seeded(examples: int) -> Any:
    """Hypothesis settings of the suite's property tests: ``examples`` examples of a fixed
    seed (the same in every run), no deadline, over the function's fixtures (a storage that
    every example shares: each example makes records of its own)."""
    return hypothesis.settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        suppress_health_check=[
            hypothesis.HealthCheck.function_scoped_fixture,
            hypothesis.HealthCheck.too_slow,
        ],
    )


def make_settings(database_url: str, **overrides: Any) -> Settings:
    return Settings(database_url=database_url, **overrides)


def _with_driver(url: str | None, driver: str) -> str | None:
    if not url:
        return None
    return make_url(url).set(drivername=driver).render_as_string(hide_password=False)


#: Server engines under test: their admin URL, from the environment (.ci/run sets them).
#: MariaDB is reached through both drivers: PyMySQL (``mysql://``) and mysqlclient.
SERVER_ENGINES = {
    "postgresql": os.environ.get("FREEZER_TEST_POSTGRESQL_URL"),
    "mariadb": os.environ.get("FREEZER_TEST_MYSQL_URL"),
    "mariadb-mysqlclient": _with_driver(os.environ.get("FREEZER_TEST_MYSQL_URL"), "mysql+mysqldb"),
}

#: why an engine under test cannot be reached here; its tests are skipped with the reason
MISSING_DRIVERS = {
    "mariadb-mysqlclient": None
    if importlib.util.find_spec("MySQLdb")
    else "mysqlclient is not installed (extra 'mysqlclient'; it builds against libmariadb-dev)"
}


def server_engine(name: str) -> str:
    """The admin URL of server engine ``name``; skips the test if it cannot be reached here."""
    admin = SERVER_ENGINES[name]
    if not admin:
        pytest.skip(f"no {name} under test")
    missing = MISSING_DRIVERS.get(name)
    if missing:
        pytest.skip(missing)
    return admin


def engines_under_test() -> list[str]:
    """SQLite always; PostgreSQL and MariaDB when their URL is set."""
    return ["sqlite", *(name for name, url in SERVER_ENGINES.items() if url)]


@pytest.fixture(scope="session")
def server_databases() -> Iterator[dict[str, str]]:
    """A throw-away, migrated database on each server engine, dropped at the end."""
    created: dict[str, str] = {}
    try:
        for name, admin_url in SERVER_ENGINES.items():
            if admin_url and not MISSING_DRIVERS.get(name):
                created[name] = throwaway.create(admin_url)
                migrate.upgrade_url(created[name])
        yield created
    finally:
        for name, url in created.items():
            throwaway.drop(SERVER_ENGINES[name] or "", url)


@pytest.fixture(params=engines_under_test())
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'freezer.db'}"
    server_engine(request.param)
    url: str = request.getfixturevalue("server_databases")[request.param]
    throwaway.empty(url)
    return url


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated once per test process; each test gets a copy of it."""
    path: Path = tmp_path_factory.mktemp("template") / "migrated.db"
    migrate.upgrade_url(f"sqlite:///{path}")
    # NOTE: the last connection's close checkpointed the WAL: the file is the whole database.
    assert not path.with_name(path.name + "-wal").exists()
    return path


@pytest.fixture
def storage(settings: Settings, request: pytest.FixtureRequest) -> Iterator[Storage]:
    """The database of ``settings``, migrated: a copy of the template on SQLite; the
    server engines' throw-away databases were migrated once, and are emptied per test."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database:
        if Path(url.database).exists():
            migrate.upgrade_url(settings.database_url, storage_options(settings))
        else:
            shutil.copyfile(request.getfixturevalue("sqlite_template"), url.database)
    opened = open_storage(settings.database_url, storage_options(settings))
    yield opened
    opened.close()


@pytest.fixture
def client(settings: Settings, storage: Storage) -> falcon.testing.TestClient:
    return falcon.testing.TestClient(create_app(settings, storage))


def make_v1_backup(**overrides: Any) -> dict[str, Any]:
    """A seed backup_metadata document; each call gets a new timestamp."""
    document: dict[str, Any] = {
        "container": "freezer_container",
        "host_name": "host1.example.org",
        "backup_name": "etc",
        "timestamp": next(_timestamps),
        "level": 0,
        "backup_session": 1,
        "max_level": 5,
        "mode": "fs",
        "fs_real_path": "/etc",
        "vol_snap_path": "/etc",
        "total_broken_links": 0,
        "total_fs_files": 10,
        "total_directories": 2,
        "backup_size_uncompressed": 4096,
        "backup_size_compressed": 1024,
        "total_backup_session_size": 1024,
        "compression_alg": "gzip",
        "encrypted": False,
        "client_os": "linux",
        "broken_links": [],
        "excluded_files": ["/etc/shadow"],
        "cli": "freezerc --action backup",
        "version": "1.0",
    }
    document.update(overrides)
    return document


def v1_id(document: dict[str, Any]) -> str:
    return "_".join(
        str(document[key])
        for key in ("container", "host_name", "backup_name", "timestamp", "level")
    )


def user(user_id: str, project_id: str = "project-a", name: str | None = None) -> dict[str, str]:
    """noauth identity headers for one caller."""
    return {"X-User-Id": user_id, "X-User-Name": name or user_id, "X-Project-Id": project_id}


def make_backup(**overrides: Any) -> dict[str, Any]:
    """A v2 backup as the freezer agent posts it."""
    document: dict[str, Any] = {
        "backup_name": "etc",
        "container": "freezer_container",
        "hostname": "host1.example.org",
        "time_stamp": next(_timestamps),
        "curr_backup_level": 0,
        "mode": "fs",
        "path_to_backup": "/etc",
    }
    document.update(overrides)
    return document


def make_action(**overrides: Any) -> dict[str, Any]:
    freezer_action = {
        "action": "backup",
        "mode": "fs",
        "path_to_backup": "/etc",
        "backup_name": "etc",
    }
    freezer_action.update(overrides)
    return freezer_action


def make_job(client_id: str, **overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "client_id": client_id,
        "description": "nightly /etc",
        "job_schedule": {"schedule_interval": "1 days"},
        "job_actions": [{"freezer_action": make_action(), "max_retries": 3}],
    }
    document.update(overrides)
    return document


class V2:
    """A caller of /v2/{project}: ``api.post("jobs", body)`` and friends."""

    def __init__(
        self, client: falcon.testing.TestClient, project: str, user_id: str = "u1"
    ) -> None:
        self.client = client
        self.project = project
        self.headers = {"X-User-Id": user_id, "X-Project-Id": project}

    def url(self, path: str) -> str:
        return f"/v2/{self.project}/{path}"

    def request(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.client.simulate_request(
            method, self.url(path), json=body, headers=headers, **kwargs
        )

    def get(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.request("GET", path, body, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.request("POST", path, body, **kwargs)

    def patch(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.request("PATCH", path, body, **kwargs)

    def put(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.request("PUT", path, body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, None, **kwargs)

    def created(self, path: str, body: Any) -> str:
        result = self.post(path, body)
        assert result.status_code == 201, result.text
        (doc_id,) = result.json.values()
        return str(doc_id)

    def listed(self, plural: str, search: Any = None, query: str = "") -> list[dict[str, Any]]:
        result = self.get(plural, search, query_string=query)
        assert result.status_code == 200, result.text
        items: list[dict[str, Any]] = result.json[plural]
        return items

    def refused(self, path: str, query: str, message: str) -> None:
        """A GET of ``path?query`` answers 400 with ``message`` in its description."""
        answer = self.get(path, query_string=query)
        assert answer.status_code == 400, answer.text
        assert message in answer.json["description"]

    def register(self, client_id: str = "", **info: Any) -> str:
        client_id = client_id or f"{self.project}_host1.example.org"
        return self.created("clients", {"client_id": client_id, "hostname": "host1", **info})


@pytest.fixture
def api(client: falcon.testing.TestClient) -> V2:
    return V2(client, "project-a")


@pytest.fixture
def other_api(client: falcon.testing.TestClient) -> V2:
    return V2(client, "project-b", user_id="u2")
