# SPDX-License-Identifier: Apache-2.0
"""A 3-node MariaDB Galera cluster on loopback, with one API process per node."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.mariadb import GALERA, MARIADBD, GaleraCluster, GaleraNode
from tests.processes import BIN, free_port, running


@dataclass
class Api:
    """An API process serving from one node."""

    node: GaleraNode
    base: str
    conf: Path
    log: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def api_conf(directory: Path, node: GaleraNode, port: int, database: str = "") -> Path:
    """The API's configuration; ``database`` adds lines to its [database] section."""
    conf = directory / f"api-{node.name}-{port}.conf"
    conf.write_text(
        f"[DEFAULT]\nbind_port = {port}\nworkers = 1\nthreads = 8\n"
        f"[database]\nconnection = {node.url}\npool_timeout = 30\n{database}"
        "[healthcheck]\nbackends = database\n"
    )
    return conf


@pytest.fixture(scope="module")
def galera() -> Iterator[GaleraCluster]:
    if not (MARIADBD.exists() and GALERA.exists() and shutil.which("rsync")):
        pytest.fail("the Galera tests need mariadb-server, galera-4 and rsync (make services)")
    # NOTE: outside pytest's private temporary directory, which the mysql user cannot enter
    directory = Path(tempfile.mkdtemp(prefix="freezer-galera-"))
    directory.chmod(0o755)
    cluster = GaleraCluster(directory / "cluster")
    try:
        cluster.start()
        cluster.nodes[0].sql("CREATE DATABASE freezer CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        manage_conf = directory / "manage.conf"
        manage_conf.write_text(f"[database]\nconnection = {cluster.nodes[0].url}\n")
        subprocess.run(
            [str(BIN / "freezer-manage"), "--config-file", str(manage_conf), "db", "sync"],
            check=True,
            capture_output=True,
            timeout=120,
        )
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def apis(galera: GaleraCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Api]]:
    directory = tmp_path_factory.mktemp("galera-apis")
    with contextlib.ExitStack() as stack:
        started = []
        for node in galera.nodes:
            port = free_port()
            conf = api_conf(directory, node, port)
            api = Api(node, f"http://127.0.0.1:{port}", conf, directory / f"api-{node.name}.log")
            argv = [str(BIN / "freezer-api"), "--config-file", str(conf)]
            api.process = stack.enter_context(running(argv, f"{api.base}/", api.log))
            started.append(api)
        yield started
