# SPDX-License-Identifier: Apache-2.0
"""A database outage: quick 503s while it is down, recovery without a restart."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
import requests

from freezer_api.storage.sql import migrate
from tests.conftest import make_v1_backup
from tests.processes import BIN, free_port, running

pytestmark = pytest.mark.slow
MARIADBD = Path("/usr/sbin/mariadbd")
HEADERS = {"X-User-Id": "agent", "X-Project-Id": "p1"}


class PrivateMariaDB:
    """A MariaDB server of the test's own, on its own port and data directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        subprocess.run(
            [
                "mariadb-install-db",
                "--no-defaults",
                f"--datadir={directory / 'data'}",
                "--user=root",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )

    @property
    def url(self) -> str:
        return f"mysql://root@127.0.0.1:{self.port}/freezer"

    def start(self) -> None:
        with (self.directory / "mariadb.log").open("ab") as log:
            self.process = self._spawn(log)
        self._wait()

    def _spawn(self, log: IO[bytes]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                str(MARIADBD),
                "--no-defaults",
                f"--datadir={self.directory / 'data'}",
                f"--port={self.port}",
                "--bind-address=127.0.0.1",
                f"--socket={self.directory / 'mariadb.sock'}",
                "--user=root",
                "--skip-grant-tables",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def _wait(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            probe = subprocess.run(
                ["mysqladmin", "-h", "127.0.0.1", "-P", str(self.port), "-u", "root", "status"],
                capture_output=True,
            )
            if probe.returncode == 0:
                return
            time.sleep(0.3)
        raise TimeoutError("the private MariaDB did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=60)
        self.process = None


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
