# SPDX-License-Identifier: Apache-2.0
"""What read-your-writes costs on Galera: GET by id with ``wsrep_sync_wait`` 1 against 0.

    python bench/galera_sync_wait.py [--seconds 5] [--rounds 3] [--connections 8]

Starts a 3-node MariaDB Galera cluster on loopback (as the tests do: the code of
``tests/mariadb.py``), fills it with backups, and serves it from two API processes on the
same node, one with ``[database] mysql_wsrep_sync_wait = 1`` (the default on Galera) and
one with ``0``. Each round measures both, one after the other, with a steady stream of
writes through another node (which is what a causality wait waits for); the table gives
each round's requests per second and median latency (wrk), and the ratio of the two.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import make_v1_backup  # noqa: E402
from tests.galera.conftest import api_conf  # noqa: E402
from tests.mariadb import GaleraCluster  # noqa: E402
from tests.processes import BIN, free_port, running  # noqa: E402

HEADERS = {"X-User-Id": "agent", "X-Project-Id": "p1", "X-Roles": "member,reader"}


def measure(base: str, backup_id: str, seconds: float, connections: int) -> tuple[float, float]:
    """Requests per second and median latency (ms) of GET by id for ``seconds``, by wrk."""
    headers = [part for name, value in HEADERS.items() for part in ("-H", f"{name}: {value}")]
    output = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds:g}s",
            "--latency",
            *headers,
            f"{base}/v1/backups/{backup_id}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1])  # type: ignore[index]
    median = re.search(r"50%\s+([\d.]+)(us|ms|s)", output)
    assert median is not None, output
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[median[2]]
    if "Non-2xx" in output:
        raise RuntimeError(output)
    return rate, float(median[1]) * scale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="freezer-galera-bench-"))
    directory.chmod(0o755)
    cluster = GaleraCluster(directory / "cluster")
    try:
        cluster.start()
        first, second = cluster.nodes[0], cluster.nodes[1]
        first.sql("CREATE DATABASE freezer CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        manage = directory / "manage.conf"
        manage.write_text(f"[database]\nconnection = {first.url}\n")
        subprocess.run(
            [str(BIN / "freezer-manage"), "--config-file", str(manage), "db", "sync"], check=True
        )
        with contextlib.ExitStack() as stack:
            bases = {}
            for wait in (1, 0):
                port = free_port()
                conf = api_conf(directory, second, port, f"mysql_wsrep_sync_wait = {wait}\n")
                argv = [str(BIN / "freezer-api"), "--config-file", str(conf)]
                base = f"http://127.0.0.1:{port}"
                stack.enter_context(running(argv, f"{base}/", directory / f"api{wait}.log"))
                bases[wait] = base
            port = free_port()
            conf = api_conf(directory, first, port)
            writer_base = f"http://127.0.0.1:{port}"
            argv = [str(BIN / "freezer-api"), "--config-file", str(conf)]
            stack.enter_context(running(argv, f"{writer_base}/", directory / "writer.log"))
            session = requests.Session()
            ids = []
            for number in range(500):
                created = session.post(
                    f"{writer_base}/v1/backups",
                    json=make_v1_backup(backup_name=f"b{number}"),
                    headers=HEADERS,
                )
                ids.append(created.json()["backup_id"])
            stop = threading.Event()

            def writes() -> None:
                writing = requests.Session()
                for number in range(10**6):
                    if stop.is_set():
                        return
                    writing.post(
                        f"{writer_base}/v1/backups",
                        json=make_v1_backup(backup_name=f"w{number}"),
                        headers=HEADERS,
                    )
                    time.sleep(0.01)

            background = threading.Thread(target=writes)
            background.start()
            print(
                "| round | sync_wait=1 req/s | median ms | sync_wait=0 req/s | median ms | ratio |"
            )
            print("|---|---|---|---|---|---|")
            try:
                for round_ in range(1, args.rounds + 1):
                    waiting = measure(bases[1], ids[round_], args.seconds, args.connections)
                    plain = measure(bases[0], ids[round_], args.seconds, args.connections)
                    print(
                        f"| {round_} | {waiting[0]:.0f} | {waiting[1]:.2f} | {plain[0]:.0f} | "
                        f"{plain[1]:.2f} | {waiting[0] / plain[0]:.2f} |"
                    )
            finally:
                stop.set()
                background.join()
    finally:
        cluster.stop()
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
