# SPDX-License-Identifier: Apache-2.0
"""Benchmark this server against freezer-api 19.0.0 and a bare WSGI ceiling, side by side.

    .venv/bin/python bench/run.py [--rows 1000,10000] [--concurrency 1,16,64] [--duration 5]

Run by hand (``make bench``), never in CI. It installs freezer-api 19.0.0 (and uwsgi)
into ``.venv-freezer-api-19``, serves each contender with 2 processes on a fresh SQLite
database, prefills the backups (this server through ``freezer-manage db import``, the
bulk path; 19.0.0 with SQL inserts into its own tables), measures every scenario with wrk,
and prints a Markdown table (req/s, p50/p99 latency, server CPU per request, largest RSS)
with the ratio ours/theirs. GET by id is also given as a share of the bare WSGI app's rate,
measured right after it at the same concurrency. It also checks that what it reads back is
what it wrote.

With ``--profile DIR``, every cell is loaded a second time while py-spy samples the
server's worker processes (the measured pass is never sampled): DIR gets each cell's
stacks in the collapsed format (``.folded``, for flamegraph.pl or speedscope) and a summary
of where the workers' time went (``.txt``: the functions most often on top of the stack,
and the share of samples each of the project's functions is part of).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
OURS_BIN = Path(sys.executable).parent
LEGACY_VENV = Path(
    os.environ.get("FREEZER_BENCH_LEGACY_VENV", ROOT / ".venv-freezer-api-19")
).absolute()
PROJECT = "bench"
HEADERS = {
    "X-Identity-Status": "Confirmed",
    "X-User-Id": "bench-user",
    "X-Project-Id": PROJECT,
    "X-Roles": "member,reader",
}
PROCESSES = 2
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def backup(index: int) -> dict[str, Any]:
    return {
        "backup_name": f"name-{index % 100}",
        "container": f"container-{index % 10}",
        "hostname": f"host-{index % 50}",
        "time_stamp": 1_700_000_000 + index,
        "curr_backup_level": index % 5,
        "mode": "fs",
        "path_to_backup": "/etc",
        "fs_real_path": "/etc",
        "client_os": "linux",
        "compression": "gzip",
        "storage": "swift",
    }


# -- servers --------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    base: str
    process: subprocess.Popen[bytes]

    def pids(self) -> list[int]:
        """The server's process and its children (the workers)."""
        found = [self.process.pid]
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(stat[1]) == self.process.pid:
                    found.append(int(entry.name))
        return found

    def cpu_seconds(self) -> float:
        total = 0
        for pid in self.pids():
            try:
                stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(stat[11]) + int(stat[12])
        return total / CLK_TCK

    def largest_rss_mb(self) -> float:
        largest = 0
        for pid in self.pids():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        largest = max(largest, int(line.split()[1]))
        return largest / 1024


@contextlib.contextmanager
def serve(
    name: str, argv: list[str], port: int, env: dict[str, str], log: Path
) -> Iterator[Server]:
    with log.open("wb") as output:
        process = subprocess.Popen(
            argv,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **env},
            start_new_session=True,
            # NOTE: not the repository, whose freezer_api/ would shadow 19.0.0's package.
            cwd=log.parent,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"{base}/v2/{PROJECT}/backups?limit=1", headers=HEADERS, timeout=5)
                break
            except requests.RequestException:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not start; see {log}") from None
                time.sleep(0.2)
        yield Server(name, base, process)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGINT if "uwsgi" in argv[0] else signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def uwsgi_argv(binary: Path, port: int) -> list[str]:
    """uwsgi as freezer-api 19.0.0 is benchmarked: HTTP/1.1 keep-alive, 2 processes."""
    return [
        str(binary),
        "--http11-socket",
        f"127.0.0.1:{port}",
        "--processes",
        str(PROCESSES),
        "--master",
        "--need-app",
        "--disable-logging",
    ]


#: engine -> (URL of its server for this server's drivers, driver 19.0.0 uses)
ENGINES = {
    "mariadb": (
        os.environ.get("FREEZER_BENCH_MYSQL_URL", "mysql://root@127.0.0.1:3306"),
        "mysql+pymysql",
    ),
    "postgresql": (
        os.environ.get("FREEZER_BENCH_POSTGRESQL_URL", "postgresql://postgres@127.0.0.1:5432"),
        "postgresql+psycopg2",
    ),
}


#: engines freezer-api 19.0.0 cannot run on, and why
LEGACY_CANNOT = {
    # NOTE: its "db sync" fails there, yet exits 0.
    "postgresql": 'its schema does not build on PostgreSQL (type "blob" does not exist)',
}


@contextlib.contextmanager
def database(engine: str, directory: Path, name: str) -> Iterator[tuple[str, str]]:
    """A new empty database: its URL for this server and for 19.0.0; dropped afterwards."""
    if engine == "sqlite":
        path = f"sqlite:///{directory / name}.db"
        yield path, path
        return
    import sqlalchemy

    server, legacy_driver = ENGINES[engine]
    admin_url = sqlalchemy.make_url(server)
    admin_url = admin_url.set(database="postgres" if engine == "postgresql" else None)
    admin = sqlalchemy.create_engine(
        admin_url.set(drivername=ours_driver(admin_url.drivername)), isolation_level="AUTOCOMMIT"
    )
    database_name = f"freezer_bench_{name}_{os.getpid()}"
    create = f"CREATE DATABASE {database_name}"
    if engine == "mariadb":
        create += " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
    with admin.connect() as connection:
        connection.exec_driver_sql(create)
    url = admin_url.set(database=database_name)
    legacy_url = url.set(drivername=legacy_driver)
    if engine == "mariadb":
        legacy_url = legacy_url.update_query_dict({"charset": "utf8mb4"})
    try:
        yield (
            url.render_as_string(hide_password=False),
            legacy_url.render_as_string(hide_password=False),
        )
    finally:
        force = " WITH (FORCE)" if engine == "postgresql" else ""
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {database_name}{force}")
        admin.dispose()


def ours_driver(drivername: str) -> str:
    """The driver this benchmark's own Python reaches an engine with: this server's default."""
    sys.path.insert(0, str(ROOT))
    from freezer_api.storage.sql.engine import DEFAULT_DRIVERS

    backend = drivername.split("+")[0]
    return f"{backend}+{DEFAULT_DRIVERS[backend]}" if backend in DEFAULT_DRIVERS else drivername


def ours(
    directory: Path, rows: int, server: str, url: str, threads: int
) -> contextlib.AbstractContextManager[Server]:
    port = free_port()
    conf = directory / "ours.conf"
    conf.write_text(
        f"[DEFAULT]\nbind_port = {port}\nworkers = {PROCESSES}\nthreads = {threads}\n"
        f"[database]\nconnection = {url}\n"
        f"[api]\nmax_limit = 1000\n"
    )
    manage = [str(OURS_BIN / "freezer-manage"), "--config-file", str(conf), "db"]
    subprocess.run([*manage, "sync"], check=True, capture_output=True)
    lines = directory / "prefill.jsonl"
    write_ids(directory / "ids-ours.txt", write_prefill(lines, rows))
    subprocess.run([*manage, "import", "--input", str(lines)], check=True, capture_output=True)
    if server == "uwsgi":
        argv = [*uwsgi_argv(OURS_BIN / "uwsgi", port), "--module", "freezer_api.cmd.api"]
        if threads > 1:
            argv += ["--threads", str(threads)]
    else:
        argv = [str(OURS_BIN / "freezer-api"), "--config-file", str(conf)]
    env = {"FREEZER_API_CONFIG": str(conf)}
    return serve("ours", argv, port, env, directory / "ours.log")


def sampled(rows: int) -> int:
    """Every how many prefilled backups one is read back by id (about 2,000 in all)."""
    return max(rows // 2000, 1)


def write_ids(path: Path, ids: list[str]) -> None:
    path.write_text("\n".join(ids) + "\n")


def write_prefill(path: Path, rows: int) -> list[str]:
    """Write ``rows`` backups for ``db import``; return ids spread over the whole table."""
    sys.path.insert(0, str(ROOT))
    from freezer_api.service.backups import index_fields

    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None).isoformat()
    ids = []
    with path.open("w") as output:
        for index in range(rows):
            metadata = backup(index)
            doc_id = uuid.uuid4().hex
            if index % sampled(rows) == 0:
                ids.append(doc_id)
            record = {
                "kind": "backups",
                "doc_id": doc_id,
                "project_id": PROJECT,
                "user_id": "bench-user",
                "version": 1,
                "created_at": now,
                "updated_at": now,
                "doc": {"status": "available", "backup_metadata": metadata},
                "fields": index_fields(metadata, "available"),
            }
            output.write(json.dumps(record) + "\n")
    return ids


def legacy(directory: Path, rows: int, url: str) -> contextlib.AbstractContextManager[Server]:
    port = free_port()
    conf = directory / "legacy.conf"
    conf.write_text(f"[database]\nconnection = {url}\n")
    bin_dir = LEGACY_VENV / "bin"
    subprocess.run(
        [str(bin_dir / "freezer-manage"), "--config-file", str(conf), "db", "sync"],
        check=True,
        capture_output=True,
    )
    write_ids(directory / "ids-freezer-api 19.0.0.txt", prefill_legacy(url, rows))
    argv = [*uwsgi_argv(bin_dir / "uwsgi", port), "--wsgi-file", str(BENCH / "legacy_wsgi.py")]
    env = {"FREEZER_BENCH_CONF": str(conf)}
    return serve("freezer-api 19.0.0", argv, port, env, directory / "legacy.log")


def prefill_legacy(url: str, rows: int) -> list[str]:
    """Insert ``rows`` backups into 19.0.0's table; return ids spread over the whole table."""
    import sqlalchemy

    parsed = sqlalchemy.make_url(url)
    engine = sqlalchemy.create_engine(parsed.set(drivername=ours_driver(parsed.drivername)))
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    all_ids = [uuid.uuid4().hex for _ in range(rows)]
    insert = sqlalchemy.text(
        "INSERT INTO backups (id, job_id, project_id, user_id, status, backup_metadata,"
        " created_at, updated_at, deleted) VALUES"
        " (:id, NULL, :project, :user, 'available', :metadata, :now, :now, :deleted)"
    )
    with engine.begin() as connection:
        for start in range(0, rows, 5000):
            connection.execute(
                insert,
                [
                    {
                        "id": all_ids[index],
                        "project": PROJECT,
                        "user": "bench-user",
                        "metadata": json.dumps(backup(index)),
                        "now": now,
                        "deleted": False,
                    }
                    for index in range(start, min(start + 5000, rows))
                ],
            )
    engine.dispose()
    return all_ids[:: sampled(rows)]


def ceiling(directory: Path, server: str) -> contextlib.AbstractContextManager[Server]:
    port = free_port()
    if server == "uwsgi":
        argv = [
            *uwsgi_argv(OURS_BIN / "uwsgi", port),
            "--wsgi-file",
            str(BENCH / "ceiling_wsgi.py"),
        ]
        return serve("ceiling", argv, port, {}, directory / "ceiling.log")
    argv = [
        str(OURS_BIN / "gunicorn"),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(PROCESSES),
        "--threads",
        "4",
        "--worker-class",
        "gthread",
        "--chdir",
        str(BENCH),
        "ceiling_wsgi:application",
    ]
    return serve("ceiling", argv, port, {}, directory / "ceiling.log")


def ensure_legacy_venv() -> None:
    if not (LEGACY_VENV / "bin" / "uwsgi").exists():
        if not (LEGACY_VENV / "bin" / "python").exists():
            subprocess.run([sys.executable, "-m", "venv", str(LEGACY_VENV)], check=True)
        pip = [str(LEGACY_VENV / "bin" / "python"), "-m", "pip", "-q", "install"]
        subprocess.run([*pip, "freezer-api==19.0.0", "uwsgi"], check=True)
    # NOTE: 19.0.0 reaches MariaDB and PostgreSQL through oslo.db with these drivers.
    python = str(LEGACY_VENV / "bin" / "python")
    found = subprocess.run([python, "-c", "import pymysql, psycopg2"], capture_output=True)
    if found.returncode != 0:
        pip = [python, "-m", "pip", "-q", "install"]
        subprocess.run([*pip, "PyMySQL", "psycopg2-binary"], check=True)


# -- scenarios --------------------------------------------------------------------------------


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


# -- profiles -------------------------------------------------------------------------------------

#: samples per second py-spy takes of each worker
PROFILE_RATE = 250


def profile(
    server: Server,
    plan: list[tuple[int, str, str, str]],
    ids: Path,
    concurrency: int,
    seconds: int,
    output: Path,
) -> None:
    """Load the server as ``measure`` does while py-spy samples each worker; write the
    merged stacks (``output``.folded) and their summary (``output``.txt)."""
    spy = OURS_BIN / "py-spy"
    # NOTE: before the samplers start, whose duration is the load's: a server still working
    # off the last cell's backlog would be sampled at that instead.
    settle(server)
    workers = [pid for pid in server.pids() if pid != server.process.pid]
    raw = [output.with_name(f"{output.name}.{pid}.raw") for pid in workers]
    samplers = [
        subprocess.Popen(
            [
                str(spy),
                "record",
                "--pid",
                str(pid),
                "--rate",
                str(PROFILE_RATE),
                "--duration",
                str(seconds + 1),
                "--format",
                "raw",
                "--nonblocking",
                "--function",
                "--output",
                str(path),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for pid, path in zip(workers, raw, strict=True)
    ]
    # NOTE: py-spy needs a moment to attach before the load starts.
    time.sleep(0.5)
    load = measure(server, plan, ids, concurrency, seconds)
    stacks: dict[str, int] = {}
    for sampler, path in zip(samplers, raw, strict=True):
        sampler.wait(timeout=seconds + 60)
        with contextlib.suppress(FileNotFoundError):
            for stack, count in read_folded(path.read_text()):
                stacks[stack] = stacks.get(stack, 0) + count
            path.unlink()
    folded = output.with_name(output.name + ".folded")
    folded.write_text("".join(f"{stack} {count}\n" for stack, count in stacks.items()))
    sampled = (
        f"{server.name} at c={concurrency} while sampled: {load.requests_per_s:.0f} req/s, "
        f"{load.cpu_ms:.2f} ms of CPU per request\n"
    )
    output.with_name(output.name + ".txt").write_text(sampled + summary(stacks))


def read_folded(text: str) -> Iterator[tuple[str, int]]:
    """(stack, samples) of py-spy's raw output: frames joined by ``;``, then a count."""
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            yield stack, int(count)


def summary(stacks: dict[str, int], top: int = 20) -> str:
    """The functions most often running (self), and the share of samples each of the
    project's functions was on the stack for (inclusive)."""
    total = sum(stacks.values())
    if not total:
        return "no samples: py-spy could not attach, or the workers were idle\n"
    own: dict[str, int] = {}
    within: dict[str, int] = {}
    for stack, count in stacks.items():
        frames = stack.split(";")
        own[frames[-1]] = own.get(frames[-1], 0) + count
        for frame in set(frames):
            if "freezer_api/" in frame:
                within[frame] = within.get(frame, 0) + count
    lines = [
        f"{total} samples of the workers while they ran a request: in Python, or waiting in a "
        "call made from it (a lock, the disk, the database)\n",
        "self (on top of the stack):",
    ]
    for frame, count in sorted(own.items(), key=lambda item: -item[1])[:top]:
        lines.append(f"  {100 * count / total:5.1f}%  {frame}")
    lines.append("\ninclusive (the project's functions on the stack):")
    for frame, count in sorted(within.items(), key=lambda item: -item[1])[: 2 * top]:
        lines.append(f"  {100 * count / total:5.1f}%  {frame}")
    return "\n".join(lines) + "\n"


def slug(text: str) -> str:
    return "".join(char if char.isalnum() else "-" for char in text.lower()).strip("-")


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


# -- report --------------------------------------------------------------------------------------


def row(label: str, mine: Measure, theirs: Measure | None, ceiling_rps: float | None) -> str:
    if theirs is None:
        ratio, them = "n/a", "n/a | | |"
    else:
        ratio = (
            f"{mine.requests_per_s / theirs.requests_per_s:.1f}x"
            if theirs.requests_per_s
            else "no answer"
        )
        failed = f" **{theirs.errors} errors**" if theirs.errors else ""
        them = (
            f"{theirs.requests_per_s:.1f}{failed} | {theirs.p50_ms:.1f} / {theirs.p99_ms:.1f} | "
            f"{theirs.cpu_ms:.2f} | {theirs.rss_mb:.0f}"
        )
    share = (
        f" ({100 * mine.requests_per_s / ceiling_rps:.0f}% of the ceiling's {ceiling_rps:.0f})"
        if ceiling_rps
        else ""
    )
    errors = f" **{mine.errors} errors**" if mine.errors else ""
    return (
        f"| {label} | {mine.requests_per_s:.1f}{share}{errors} | {mine.p50_ms:.1f} / "
        f"{mine.p99_ms:.1f} | {mine.cpu_ms:.2f} | {mine.rss_mb:.0f} | {them} | {ratio} |"
    )


HEADER = (
    "| scenario | ours req/s | ours p50/p99 ms | ours CPU ms/req | ours RSS MB | "
    "19.0.0 req/s | 19.0.0 p50/p99 ms | 19.0.0 CPU ms/req | 19.0.0 RSS MB | ours/19.0.0 |\n"
    "|---|---|---|---|---|---|---|---|---|---|"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default="1000,10000", help="stored backups, comma-separated")
    parser.add_argument("--concurrency", default="1,16,64")
    parser.add_argument("--duration", type=int, default=5, help="seconds per measurement")
    parser.add_argument(
        "--legacy-max-rows",
        type=int,
        default=10_000,
        help="largest table freezer-api 19.0.0 is measured on (its searches read every row)",
    )
    parser.add_argument(
        "--only", help="measure only the scenarios whose names contain one of these (a, b, ...)"
    )
    parser.add_argument(
        "--engine",
        choices=("sqlite", "mariadb", "postgresql"),
        default="sqlite",
        help="database of both servers; MariaDB and PostgreSQL are reached at "
        "$FREEZER_BENCH_MYSQL_URL / $FREEZER_BENCH_POSTGRESQL_URL (default: local, as root / "
        "postgres), where the benchmark creates and drops its own databases",
    )
    parser.add_argument(
        "--server",
        choices=("uwsgi", "gunicorn"),
        default="uwsgi",
        help="WSGI server of this server and of the ceiling: uwsgi, as 19.0.0 is served, or "
        "gunicorn (the freezer-api command)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads in each of this server's processes (19.0.0 and the ceiling keep one); "
        "SQLite writers of a process share commits, so threads raise the write rate",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="also load every cell once more while py-spy samples the workers of both "
        "servers; write the stacks and a summary per cell into DIR",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is needed: apt-get install wrk", file=sys.stderr)
        return 1
    if args.profile is not None:
        if not (OURS_BIN / "py-spy").exists():
            print("py-spy is needed: make bench installs it (.[bench])", file=sys.stderr)
            return 1
        args.profile.mkdir(parents=True, exist_ok=True)
    ensure_legacy_venv()
    wanted = args.only.split(",") if args.only else []
    plans = {
        name: plan
        for name, plan in scenarios().items()
        if not wanted or any(part in name for part in wanted)
    }
    print(
        f"# {datetime.date.today()} on {os.cpu_count()} cores; {PROCESSES} processes each; "
        f"{args.engine}; this server and the ceiling under {args.server}; "
        f"{args.threads} thread(s) in each of this server's processes\n"
    )
    if args.engine in LEGACY_CANNOT:
        print(f"freezer-api 19.0.0 is not measured: {LEGACY_CANNOT[args.engine]}\n")
    with tempfile.TemporaryDirectory(prefix="freezer-bench-") as work:
        directory = Path(work)
        with ceiling(directory, args.server) as top:
            ceiling_rps = measure(top, CEILING_PLAN, Path("/dev/null"), 16, args.duration)
            print(f"ceiling (bare WSGI, 1 KB JSON, c=16): {ceiling_rps.requests_per_s:.0f} req/s\n")
            for rows in (int(value) for value in args.rows.split(",")):
                run_size(directory / f"rows-{rows}", rows, args, plans, top)
    return 0


#: what the ceiling answers: 1 KB of JSON for any GET
CEILING_PLAN = [(1, "GET", "/", "-")]


def run_size(
    directory: Path, rows: int, args: argparse.Namespace, plans: dict[str, Any], top: Server
) -> None:
    directory.mkdir()
    with contextlib.ExitStack() as stack:
        url, _ = stack.enter_context(database(args.engine, directory, f"ours_{rows}"))
        contenders = [ours(directory, rows, args.server, url, args.threads)]
        if rows <= args.legacy_max_rows and args.engine not in LEGACY_CANNOT:
            _, legacy_url = stack.enter_context(database(args.engine, directory, f"legacy_{rows}"))
            contenders.append(legacy(directory, rows, legacy_url))
        servers = [stack.enter_context(contender) for contender in contenders]
        for server in servers:
            verify(server)
            add_jobs(server, 1000)
        ids = {server.name: directory / f"ids-{server.name}.txt" for server in servers}
        for concurrency in (int(value) for value in args.concurrency.split(",")):
            print(f"## {rows:,} backups, concurrency {concurrency}\n\n{HEADER}")
            for name, plan in plans.items():
                results = [
                    measure(server, plan, ids[server.name], concurrency, args.duration, servers)
                    if server.name == "ours" or name not in NOT_FOR_LEGACY
                    else None
                    for server in servers
                ]
                theirs = results[1] if len(results) > 1 else None
                share = None
                if name == "GET backup by id":
                    # NOTE: measured right after, at the same concurrency: the machine's
                    # speed drifts (the ceiling measured 13,000 to 134,000 req/s across
                    # runs), and a ceiling from another minute says little about this one.
                    beside = measure(
                        top, CEILING_PLAN, Path("/dev/null"), concurrency, args.duration
                    )
                    share = beside.requests_per_s
                assert results[0] is not None
                print(row(name, results[0], theirs, share), flush=True)
                if args.profile is not None:
                    for server, result in zip(servers, results, strict=True):
                        if result is not None:
                            cell = f"{rows}-c{concurrency}-{slug(name)}-{slug(server.name)}"
                            profile(
                                server,
                                plan,
                                ids[server.name],
                                concurrency,
                                args.duration,
                                args.profile / cell,
                            )
            print()


if __name__ == "__main__":
    sys.exit(main())
