# SPDX-License-Identifier: Apache-2.0
"""MariaDB servers of a test's own: one alone, or three nodes of a Galera cluster on loopback.

Each has its own data directory, socket and ports, and is stopped by its PID. A lone server
runs as root; Galera nodes run as ``mysql``, as packaged ones do (the rsync state transfer's
daemon would otherwise write as ``nobody``), in a directory that user can reach.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import pymysql

from tests.processes import free_port

MARIADBD = Path("/usr/sbin/mariadbd")
GALERA = Path("/usr/lib/galera/libgalera_smm.so")


def install_db(datadir: Path, user: str = "root") -> None:
    datadir.mkdir(parents=True, exist_ok=True)
    if user != "root":
        shutil.chown(datadir, user, user)
    subprocess.run(
        [
            "mariadb-install-db",
            "--no-defaults",
            f"--datadir={datadir}",
            f"--user={user}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )


class PrivateMariaDB:
    """A MariaDB server of the test's own, on its own port and data directory."""

    #: the system user the server runs as
    user = "root"
    #: SQL each of the test's own connections starts with
    init_command: str | None = None

    def __init__(self, directory: Path, *, install: bool = True) -> None:
        self.directory = directory
        self.datadir = directory / "data"
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        if install:
            install_db(self.datadir, self.user)

    @property
    def url(self) -> str:
        return f"mysql://root@127.0.0.1:{self.port}/freezer"

    def options(self) -> list[str]:
        return ["--skip-grant-tables"]

    def start(self, *extra: str, wait: bool = True) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        with (self.directory / "mariadb.log").open("ab") as log:
            self.process = subprocess.Popen(
                [
                    str(MARIADBD),
                    "--no-defaults",
                    f"--datadir={self.datadir}",
                    f"--port={self.port}",
                    "--bind-address=127.0.0.1",
                    f"--socket={self.directory / 'mariadb.sock'}",
                    f"--pid-file={self.directory / 'mariadb.pid'}",
                    f"--user={self.user}",
                    *self.options(),
                    *extra,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        if wait:
            self.wait()

    def ready(self) -> bool:
        """True once the server takes SQL (for a Galera node: synced with its cluster)."""
        try:
            connection = pymysql.connect(
                host="127.0.0.1", port=self.port, user="root", connect_timeout=2
            )
        except pymysql.Error:
            return False
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            return True
        except pymysql.Error:
            return False
        finally:
            connection.close()

    def wait(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"MariaDB exited: {self.log_tail()}")
            if self.ready():
                return
            time.sleep(0.3)
        raise TimeoutError(f"the private MariaDB did not start: {self.log_tail()}")

    def log_text(self) -> str:
        log = self.directory / "mariadb.log"
        return log.read_text(errors="replace") if log.exists() else ""

    def log_tail(self) -> str:
        return self.log_text()[-3000:]

    def sql(self, statement: str, database: str | None = None) -> list[tuple[object, ...]]:
        connection = pymysql.connect(
            host="127.0.0.1",
            port=self.port,
            user="root",
            database=database,
            connect_timeout=5,
            init_command=self.init_command,
        )
        try:
            with connection.cursor() as cursor:
                cursor.execute(statement)
                rows = list(cursor.fetchall())
            connection.commit()
            return rows
        finally:
            connection.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process = None

    def kill(self) -> None:
        """kill -9, as a crash would."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=60)
        self.process = None


class GaleraNode(PrivateMariaDB):
    """One node of a :class:`GaleraCluster`: its SQL, group, IST and SST ports of its own."""

    user = "mysql"
    # NOTE: so that the test can still ask a node without quorum for its status
    init_command = "SET SESSION wsrep_dirty_reads = ON"

    def __init__(self, directory: Path, name: str) -> None:
        super().__init__(directory, install=False)
        self.name = name
        self.group_port = free_port()
        self.ist_port = free_port()
        self.sst_port = free_port()
        self.peers: Sequence[GaleraNode] = ()
        self.settings: dict[str, str] = {}

    def options(self) -> list[str]:
        addresses = ",".join(f"127.0.0.1:{peer.group_port}" for peer in self.peers)
        provider = (
            f"base_port={self.group_port};gmcast.listen_addr=tcp://127.0.0.1:{self.group_port};"
            f"ist.recv_addr=127.0.0.1:{self.ist_port};gcache.size=64M"
        )
        return [
            "--skip-grant-tables",
            "--binlog-format=ROW",
            "--default-storage-engine=InnoDB",
            "--innodb-autoinc-lock-mode=2",
            "--innodb-buffer-pool-size=32M",
            "--innodb-flush-log-at-trx-commit=0",
            "--skip-name-resolve",
            "--wsrep-on=ON",
            f"--wsrep-provider={GALERA}",
            f"--wsrep-cluster-address=gcomm://{addresses}",
            "--wsrep-cluster-name=freezer-test",
            f"--wsrep-node-name={self.name}",
            f"--wsrep-node-address=127.0.0.1:{self.group_port}",
            f"--wsrep-node-incoming-address=127.0.0.1:{self.port}",
            f"--wsrep-provider-options={provider}",
            f"--wsrep-sst-receive-address=127.0.0.1:{self.sst_port}",
            "--wsrep-sst-method=rsync",
            *(f"--{name}={value}" for name, value in self.settings.items()),
        ]

    def status(self, variable: str) -> str:
        rows = self.sql(f"SHOW GLOBAL STATUS LIKE '{variable}'")
        return str(rows[0][1]) if rows else ""

    def synced(self) -> bool:
        try:
            return self.status("wsrep_local_state_comment") == "Synced"
        except pymysql.Error:
            return False

    def wait_synced(self, timeout: float = 120) -> None:
        self.wait(timeout)
        deadline = time.monotonic() + timeout
        while not self.synced():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} did not sync: {self.log_tail()}")
            time.sleep(0.3)

    def wipe_to_empty(self) -> None:
        """Forget the node's data, so that it (re)joins by a full state transfer (SST)."""
        shutil.rmtree(self.datadir, ignore_errors=True)
        self.datadir.mkdir()
        shutil.chown(self.datadir, self.user, self.user)


class GaleraCluster:
    """Three MariaDB Galera nodes on loopback: the first bootstraps, the others join by SST."""

    def __init__(self, directory: Path, size: int = 3) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        shutil.chown(directory, GaleraNode.user, GaleraNode.user)
        self.nodes = [
            GaleraNode(directory / f"node{index}", f"node{index}") for index in range(size)
        ]
        for node in self.nodes:
            node.peers = self.nodes

    def start(self) -> None:
        first, *others = self.nodes
        for node in self.nodes:
            node.directory.mkdir()
            shutil.chown(node.directory, node.user, node.user)
        install_db(first.datadir, first.user)
        first.start("--wsrep-new-cluster", wait=False)
        first.wait_synced()
        for node in others:
            node.wipe_to_empty()
            node.start(wait=False)
            node.wait_synced()

    def size(self) -> int:
        for node in self.nodes:
            if node.process is not None:
                return int(node.status("wsrep_cluster_size"))
        return 0

    def stop(self) -> None:
        for node in reversed(self.nodes):
            node.stop()
