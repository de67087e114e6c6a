# SPDX-License-Identifier: Apache-2.0
"""Shared fixtures: real SQLite databases, the real app, small document factories."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import falcon.testing
import pytest

from freezer_api.app import create_app, storage_options
from freezer_api.config import Settings
from freezer_api.storage import open_storage
from freezer_api.storage.base import Storage
from freezer_api.storage.sql import migrate

_timestamps = itertools.count(1_700_000_000)


def make_settings(database_url: str, **overrides: Any) -> Settings:
    return Settings(database_url=database_url, **overrides)


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'freezer.db'}"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
def storage(settings: Settings) -> Iterator[Storage]:
    migrate.upgrade_url(settings.database_url, storage_options(settings))
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
