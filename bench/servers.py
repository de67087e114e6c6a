# SPDX-License-Identifier: Apache-2.0
"""The contenders of the benchmark: this server, freezer-api 19.0.0 and a bare WSGI app,
each on its own prefilled database."""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import signal
import socket
import subprocess
import sys
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
    argv = ours_argv(server, port, threads, conf)
    env = {"FREEZER_API_CONFIG": str(conf)}
    return serve("ours", argv, port, env, directory / "ours.log")


#: WSGI servers this server can be measured under (``--server``)
SERVERS = ("uwsgi", "freezer-api", "gunicorn-sync", "granian", "pyuwsgi")


def ours_argv(server: str, port: int, threads: int, conf: Path) -> list[str]:
    """This server under ``server``, with PROCESSES processes of ``threads`` threads.

    ``freezer-api`` is the command as installed (whatever it serves with); ``pyuwsgi`` is
    uwsgi's binary wheel, from $FREEZER_BENCH_PYUWSGI_VENV (a virtualenv with this project
    and pyuwsgi installed), whose ``uwsgi`` would replace the compiled one of .venv.
    """
    if server in ("uwsgi", "pyuwsgi"):
        binary = OURS_BIN / "uwsgi"
        if server == "pyuwsgi":
            binary = Path(os.environ["FREEZER_BENCH_PYUWSGI_VENV"]) / "bin" / "uwsgi"
        argv = [*uwsgi_argv(binary, port), "--module", "freezer_api.wsgi:application"]
        return argv + (["--threads", str(threads)] if threads > 1 else [])
    if server == "gunicorn-sync":
        return [
            str(OURS_BIN / "gunicorn"),
            f"--bind=127.0.0.1:{port}",
            f"--workers={PROCESSES}",
            "--worker-class=sync",
            "freezer_api.wsgi:application",
        ]
    if server == "granian":
        return [
            str(OURS_BIN / "granian"),
            "--interface=wsgi",
            "--host=127.0.0.1",
            f"--port={port}",
            f"--workers={PROCESSES}",
            f"--blocking-threads={threads}",
            "--no-ws",
            "freezer_api.wsgi:application",
        ]
    return [str(OURS_BIN / "freezer-api"), "--config-file", str(conf)]


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
    if server in ("freezer-api", "granian"):
        argv = [
            str(OURS_BIN / "granian"),
            "--interface=wsgi",
            "--host=127.0.0.1",
            f"--port={port}",
            f"--workers={PROCESSES}",
            "--no-ws",
            "--working-dir",
            str(BENCH),
            "ceiling_wsgi:application",
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
