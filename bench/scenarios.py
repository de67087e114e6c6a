# SPDX-License-Identifier: Apache-2.0
"""What the benchmark loads the servers with, and how one cell is measured."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from servers import BENCH, HEADERS, PROJECT, Server, backup


def scenarios() -> dict[str, list[tuple[int, str, str, str]]]:
    search = json.dumps({"match": [{"backup_name": "name-17"}]})
    by_host = json.dumps({"match": [{"hostname": "host-3"}]})
    poll = json.dumps(
        {"match_not": [{"status": "completed"}], "match": [{"client_id": "bench_client-3"}]}
    )
    post = json.dumps(backup(424242))
    base = f"/v2/{PROJECT}"
    return {
        "GET backup by id": [(1, "GET", f"{base}/backups/{{id}}", "-")],
        "POST backup": [(1, "POST", f"{base}/backups", post)],
        "list, limit=10": [(1, "GET", f"{base}/backups?limit=10", "-")],
        "list, limit=100": [(1, "GET", f"{base}/backups?limit=100", "-")],
        "search backup_name (GET body)": [(1, "GET", f"{base}/backups", search)],
        "search hostname (GET body)": [(1, "GET", f"{base}/backups", by_host)],
        "search backup_name (query string)": [
            (1, "GET", f"{base}/backups?backup_name=name-17", "-")
        ],
        "search hostname (query string)": [(1, "GET", f"{base}/backups?hostname=host-3", "-")],
        "scheduler poll (1,000 jobs)": [(1, "GET", f"{base}/jobs?limit=10", poll)],
        "mixed": [
            (60, "GET", f"{base}/backups/{{id}}", "-"),
            (20, "POST", f"{base}/backups", post),
            (10, "GET", f"{base}/backups?limit=10", "-"),
            (5, "GET", f"{base}/backups?limit=100", "-"),
            (5, "GET", f"{base}/backups", search),
        ],
    }


#: freezer-api 19.0.0 ignores filters in the query string, so it cannot be compared there.
NOT_FOR_LEGACY = {"search backup_name (query string)", "search hostname (query string)"}


@dataclass
class Measure:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    cpu_ms: float
    rss_mb: float
    errors: int


def settle(server: Server, limit: float = 120) -> None:
    """Wait (at most ``limit`` s) until the server has worked off the last cell's backlog.

    NOTE: a server that fell behind (19.0.0 under the mixed load) would otherwise spend
    the next cell answering requests wrk has long given up on.
    """
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        began = time.monotonic()
        with contextlib.suppress(requests.RequestException):
            requests.get(
                f"{server.base}/v2/{PROJECT}/backups?limit=1", headers=HEADERS, timeout=limit
            )
            if time.monotonic() - began < 0.5:
                return
        time.sleep(1)


def measure(
    server: Server,
    plan: list[tuple[int, str, str, str]],
    ids: Path,
    concurrency: int,
    seconds: int,
    servers: list[Server] | None = None,
) -> Measure:
    # NOTE: every server of the run, not only the one measured: 19.0.0 still working off
    # a slow cell's backlog would take the cores from the next cell's measure of ours.
    for running in servers or [server]:
        settle(running)
    with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False) as handle:
        for weight, method, path, body in plan:
            handle.write(f"{weight}\t{method}\t{path}\t{body}\n")
    env = {**os.environ, "BENCH_REQUESTS": handle.name, "BENCH_IDS": str(ids)}
    before = server.cpu_seconds()
    result = subprocess.run(
        [
            "wrk",
            f"-t{min(2, concurrency)}",
            f"-c{concurrency}",
            f"-d{seconds}s",
            "--timeout",
            "30s",
            "-s",
            str(BENCH / "request.lua"),
            server.base,
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    cpu = server.cpu_seconds() - before
    os.unlink(handle.name)
    line = next(line for line in result.stdout.splitlines() if line.startswith("BENCH "))
    count, micros, p50, p99, errors = line.split()[1:]
    total = max(int(count), 1)
    return Measure(
        requests_per_s=int(count) / (int(micros) / 1e6),
        p50_ms=float(p50) / 1000,
        p99_ms=float(p99) / 1000,
        cpu_ms=cpu * 1000 / total,
        rss_mb=server.largest_rss_mb(),
        errors=int(errors),
    )


#: what the ceiling answers: 1 KB of JSON for any GET
CEILING_PLAN = [(1, "GET", "/", "-")]


# -- setup helpers ------------------------------------------------------------------------------


def add_jobs(server: Server, count: int) -> None:
    """Register 20 clients and ``count`` jobs spread over them, some completed."""
    session = requests.Session()
    for number in range(20):
        client = {"client_id": f"bench_client-{number}", "hostname": f"client-{number}"}
        session.post(
            f"{server.base}/v2/{PROJECT}/clients", json=client, headers=HEADERS, timeout=60
        )
    action = {"action": "backup", "mode": "fs", "path_to_backup": "/etc", "backup_name": "etc"}
    for number in range(count):
        job: dict[str, Any] = {
            "client_id": f"bench_client-{number % 20}",
            "job_schedule": {"status": "completed" if number % 3 == 0 else "scheduled"},
            "job_actions": [{"freezer_action": action}],
        }
        created = session.post(
            f"{server.base}/v2/{PROJECT}/jobs", json=job, headers=HEADERS, timeout=60
        )
        created.raise_for_status()


def verify(server: Server) -> None:
    """What is read back must be what was written."""
    for index in range(20):
        written = {**backup(10_000_000 + index), "check": uuid.uuid4().hex}
        created = requests.post(
            f"{server.base}/v2/{PROJECT}/backups", json=written, headers=HEADERS, timeout=60
        )
        created.raise_for_status()
        backup_id = created.json()["backup_id"]
        read = requests.get(
            f"{server.base}/v2/{PROJECT}/backups/{backup_id}", headers=HEADERS, timeout=60
        ).json()
        if read["backup_metadata"] != written:
            raise AssertionError(f"{server.name} returned {read} for {written}")
