# SPDX-License-Identifier: Apache-2.0
"""Restore points, backup sets and retention previews by catalogue size.

    python bench/restore_points.py [--counts 10000 1000000] [--repeat 30]

For each count, a new SQLite catalogue (``freezer-manage db import`` of generated JSON
lines) holds one set of 10,000 backups (levels 0-3 repeating, one day apart: the set a
lookup asks about) and the rest in sets of 100 (1,000 hosts of 10 backup names each) of
the same project. One ``freezer-api`` serves it; each request is timed ``--repeat`` times
over loopback (the median, and the slowest): a restore point in the middle of the big
set, the first page of its restore points, the backup sets of its host, a page of the
project's backup sets, and a retention preview of the big set.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.processes import BIN, free_port, running  # noqa: E402

HEADERS = {"X-User-Id": "agent", "X-Project-Id": "p1", "X-Roles": "member,reader"}
BIG = 10_000
START = 1_700_000_000


def record(host: str, name: str, time_stamp: int, level: int) -> str:
    metadata = {
        "backup_name": name,
        "container": "freezer",
        "hostname": host,
        "time_stamp": time_stamp,
        "curr_backup_level": level,
        "mode": "fs",
        "path_to_backup": "/var/lib/data",
        "storage": "swift",
    }
    fields = {
        "status": "available",
        "container": "freezer",
        "hostname": host,
        "backup_name": name,
        "time_stamp": time_stamp,
        "level": level,
        "job_id": None,
    }
    line = {
        "kind": "backups",
        "doc_id": uuid.uuid4().hex,
        "project_id": "p1",
        "user_id": "agent",
        "version": 1,
        "doc": {"status": "available", "backup_metadata": metadata},
        "fields": fields,
    }
    return json.dumps(line)


def catalogue(folder: Path, count: int) -> Path:
    lines = folder / "catalogue.jsonl"
    with lines.open("w") as output:
        for number in range(BIG):
            output.write(record("big.example.org", "etc", START + number * 86400, number % 4))
            output.write("\n")
        for number in range(count - BIG):
            host, name = f"host{number % 1000}.example.org", f"name{(number // 1000) % 10}"
            output.write(record(host, name, START + number, (number // 10000) % 4))
            output.write("\n")
    return imported(folder, lines)


def imported(folder: Path, lines: Path) -> Path:
    """A SQLite catalogue in ``folder`` holding the JSON lines of ``lines`` (then removed),
    and the configuration of one ``freezer-api`` worker serving it."""
    conf = folder / "api.conf"
    port = free_port()
    conf.write_text(
        f"[DEFAULT]\nbind_port = {port}\nworkers = 1\n"
        f"[database]\nconnection = sqlite:///{folder / 'catalogue.db'}\n"
    )
    manage = [str(BIN / "freezer-manage"), "--config-file", str(conf)]
    subprocess.run([*manage, "db", "sync"], check=True, capture_output=True)
    subprocess.run([*manage, "db", "import", "-i", str(lines)], check=True, capture_output=True)
    lines.unlink()
    return conf


def timed(call: Callable[[], requests.Response], repeat: int) -> tuple[float, float]:
    taken = []
    for _ in range(repeat):
        began = time.perf_counter()
        answer = call()
        taken.append(time.perf_counter() - began)
        assert answer.status_code == 200, answer.text[:300]
    return statistics.median(taken) * 1000, max(taken) * 1000


def measure(conf: Path, folder: Path, repeat: int) -> dict[str, tuple[float, float]]:
    port = int(conf.read_text().split("bind_port = ")[1].split()[0])
    base = f"http://127.0.0.1:{port}/v2/p1"
    session = requests.Session()
    middle = START + (BIG // 2) * 86400 + 3600
    big = {"hostname": "big.example.org", "backup_name": "etc"}
    calls: dict[str, Callable[[], Any]] = {
        "restore point at T": lambda: session.get(
            f"{base}/restore-points", params={**big, "at": str(middle)}, headers=HEADERS
        ),
        "restore points, first page": lambda: session.get(
            f"{base}/restore-points", params=big, headers=HEADERS
        ),
        "backup sets of one host": lambda: session.get(
            f"{base}/backup-sets", params={"hostname": "big.example.org"}, headers=HEADERS
        ),
        "backup sets, first page": lambda: session.get(f"{base}/backup-sets", headers=HEADERS),
        "retention preview, 10,000": lambda: session.post(
            f"{base}/retention/preview",
            json={"selector": big, "keep": {"daily": 7, "weekly": 4, "monthly": 12}},
            headers=HEADERS,
        ),
    }
    argv = [str(BIN / "freezer-api"), "--config-file", str(conf)]
    with running(argv, f"http://127.0.0.1:{port}/", folder / "api.log"):
        return {
            name: timed(call, max(3, repeat // 10) if "retention" in name else repeat)
            for name, call in calls.items()
        }


def by_size(
    counts: list[int],
    build: Callable[[Path, int], Path],
    measure: Callable[[Path, Path, int], dict[str, tuple[float, float]]],
) -> None:
    """For each count, ``build`` a catalogue in a new folder and ``measure`` its server
    (conf, folder, count); print the medians side by side, with the largest's ratio."""
    results = {}
    for count in counts:
        with tempfile.TemporaryDirectory() as name:
            folder = Path(name)
            started = time.monotonic()
            conf = build(folder, count)
            print(f"{count:,} backups imported in {time.monotonic() - started:.0f} s", flush=True)
            results[count] = measure(conf, folder, count)
    header = " | ".join(f"{count:,}: median (max) ms" for count in counts)
    print(f"| request | {header} | ratio |")
    print("|---|" + "---:|" * (len(counts) + 1))
    for name in results[counts[0]]:
        cells = " | ".join(
            f"{results[count][name][0]:.1f} ({results[count][name][1]:.1f})" for count in counts
        )
        ratio = results[counts[-1]][name][0] / results[counts[0]][name][0]
        print(f"| {name} | {cells} | {ratio:.2f} |")


def by_size_main(
    doc: str,
    build: Callable[[Path, int], Path],
    measure: Callable[[Path, Path, int, int], dict[str, tuple[float, float]]],
    repeat: int = 10,
) -> None:
    """The command line of a benchmark by catalogue size: ``--counts``, ``--repeat``; each
    count's catalogue is ``build`` and its server ``measure`` (conf, folder, count, repeat)."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=repeat)
    args = parser.parse_args()
    by_size(
        args.counts,
        build,
        lambda conf, folder, count: measure(conf, folder, count, args.repeat),
    )


def main() -> None:
    by_size_main(
        __doc__,
        catalogue,
        lambda conf, folder, _count, repeat: measure(conf, folder, repeat),
        repeat=30,
    )


if __name__ == "__main__":
    main()
