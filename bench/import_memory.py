# SPDX-License-Identifier: Apache-2.0
"""Peak memory and time of ``freezer-manage db import --from-freezer-api`` by catalogue size.

    python bench/import_memory.py --legacy-venv .venv-freezer-api-19 --counts 100000 1000000

For each count, freezer-api 19.0.0's own ``freezer-manage db sync`` makes its schema in a
new SQLite file, which is filled with that many backups (rows as 19.0.0 writes them);
this tree's ``freezer-manage`` then imports it into a new SQLite database, and the peak
resident memory of that process is read from the kernel (``wait4``). ``--tree`` runs the
code of another checkout (a ``git worktree`` of an older commit) for a before/after.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def legacy_catalogue(venv: Path, folder: Path, count: int) -> str:
    """A freezer-api 19.0.0 SQLite database holding ``count`` backups."""
    path = folder / "freezer-api-19.db"
    conf = folder / "legacy.conf"
    conf.write_text(f"[database]\nconnection = sqlite:///{path}\n")
    subprocess.run(
        [str(venv / "bin" / "freezer-manage"), "--config-file", str(conf), "db", "sync"],
        check=True,
        capture_output=True,
    )
    created = datetime.datetime(2026, 1, 1).isoformat(" ")
    with sqlite3.connect(path) as connection:
        rows = (
            (
                uuid.uuid4().hex,
                "job-1",
                f"project-{number % 10}",
                "user-1",
                json.dumps(
                    {
                        "backup_name": f"set-{number % 100}",
                        "container": "freezer",
                        "hostname": f"host-{number % 50}.example.org",
                        "time_stamp": 1_700_000_000 + number,
                        "curr_backup_level": number % 4,
                        "fs_real_path": "/var/lib/data",
                        "backup_size_compressed": 1024 * number,
                    }
                ).encode(),
                0,
                created,
                "available",
            )
            for number in range(count)
        )
        connection.executemany(
            "INSERT INTO backups (id, job_id, project_id, user_id, backup_metadata, deleted, "
            "created_at, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    return f"sqlite:///{path}"


def measure(tree: Path, source: str, folder: Path) -> tuple[float, float]:
    """Seconds and peak resident MiB of one import into a new SQLite database."""
    conf = folder / "target.conf"
    conf.write_text(f"[database]\nconnection = sqlite:///{folder / 'target.db'}\n")
    env = {**os.environ, "PYTHONPATH": str(tree)}
    manage = [sys.executable, "-m", "freezer_api.cli.manage", "--config-file", str(conf)]
    # NOTE: not in a checkout, whose freezer_api/ would come first on sys.path
    subprocess.run([*manage, "db", "sync"], check=True, env=env, capture_output=True, cwd=folder)
    started = time.monotonic()
    process = subprocess.Popen(
        [*manage, "db", "import", "--from-freezer-api", source],
        env=env,
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"the import failed ({status})")
    return seconds, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--legacy-venv", type=Path, default=ROOT / ".venv-freezer-api-19")
    parser.add_argument("--counts", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--tree", type=Path, default=ROOT, help="checkout whose code runs")
    args = parser.parse_args()
    print("| backups | import seconds | records/s | peak RSS MiB |")
    print("|---:|---:|---:|---:|")
    for count in args.counts:
        with tempfile.TemporaryDirectory() as name:
            folder = Path(name)
            source = legacy_catalogue(args.legacy_venv, folder, count)
            seconds, peak = measure(args.tree, source, folder)
            print(f"| {count:,} | {seconds:.1f} | {count / seconds:,.0f} | {peak:.0f} |")


if __name__ == "__main__":
    main()
