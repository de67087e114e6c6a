# SPDX-License-Identifier: Apache-2.0
"""A database outage: quick 503s while it is down, recovery without a restart."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from freezer_api.storage.sql import migrate
from tests.conftest import make_v1_backup
from tests.mariadb import MARIADBD, PrivateMariaDB
from tests.processes import BIN, free_port, running

pytestmark = pytest.mark.slow
HEADERS = {"X-User-Id": "agent", "X-Project-Id": "p1"}


@pytest.fixture
def mariadb(tmp_path: Path) -> Iterator[PrivateMariaDB]:
    if not MARIADBD.exists():
        pytest.fail("the outage test needs MariaDB's server (Debian package mariadb-server)")
    server = PrivateMariaDB(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_a_database_outage_is_503_and_heals_by_itself(mariadb, tmp_path):
    subprocess.run(
        [
            "mysql",
            "-h",
            "127.0.0.1",
            "-P",
            str(mariadb.port),
            "-u",
            "root",
            "-e",
            "CREATE DATABASE freezer CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
        ],
        check=True,
    )
    migrate.upgrade_url(mariadb.url)
    port = free_port()
    conf = tmp_path / "api.conf"
    conf.write_text(
        f"[DEFAULT]\nbind_port = {port}\nworkers = 1\n"
        f"[database]\nconnection = {mariadb.url}\npool_timeout = 3\n"
    )
    base = f"http://127.0.0.1:{port}"
    with running(
        [str(BIN / "freezer-api"), "--config-file", str(conf)], f"{base}/", tmp_path / "log"
    ):
        document = make_v1_backup()
        created = requests.post(f"{base}/v1/backups", json=document, headers=HEADERS, timeout=30)
        assert created.status_code == 201
        backup_id = created.json()["backup_id"]

        mariadb.stop()
        for method, path, body in (
            ("GET", f"/v1/backups/{backup_id}", None),
            ("GET", "/v1/backups", None),
            ("POST", "/v1/backups", make_v1_backup()),
        ):
            began = time.monotonic()
            refused = requests.request(
                method, f"{base}{path}", json=body, headers=HEADERS, timeout=30
            )
            assert time.monotonic() - began < 10
            assert refused.status_code == 503, refused.text
            assert refused.json()["title"] == "Service Unavailable"
            assert refused.headers["Retry-After"]

        mariadb.start()
        deadline = time.monotonic() + 30
        while True:
            again = requests.get(f"{base}/v1/backups/{backup_id}", headers=HEADERS, timeout=30)
            if again.status_code == 200 or time.monotonic() > deadline:
                break
            assert again.status_code == 503
            time.sleep(0.5)
        assert again.status_code == 200
        assert again.json()["backup_metadata"] == document
        listed = requests.get(f"{base}/v1/backups", headers=HEADERS, timeout=30).json()["backups"]
        assert [backup["backup_id"] for backup in listed] == [backup_id]
