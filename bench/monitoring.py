# SPDX-License-Identifier: Apache-2.0
"""Compliance and the change feed by catalogue size.

    python bench/monitoring.py [--counts 10000 1000000] [--repeat 10]

For each count, a new SQLite catalogue (``freezer-manage db import`` of generated JSON
lines, which also writes a create event per record) holds that many backups in 1,000
backup sets (1,000 hosts, levels 0-3 repeating in each, the newest a level 3) of one
project, and 10 freshness objectives. One ``freezer-api`` serves it; each request is timed
``--repeat`` times over loopback (the median, and the slowest): the compliance of all 1,000
sets (one page), the first page of 100 events, and a page of 100 events from the middle of
the feed.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from restore_points import HEADERS, START, by_size_main, imported, record, timed  # noqa: E402

from tests.processes import BIN, running  # noqa: E402

SETS = 1000


def objective(number: int) -> str:
    line = {
        "kind": "objectives",
        "doc_id": uuid.uuid4().hex,
        "project_id": "p1",
        "user_id": "agent",
        "version": 1,
        "doc": {
            "selector": {"hostname": f"host{number}.example.org"},
            "max_age_seconds": 86400 * (number + 1),
        },
        "fields": {},
    }
    return json.dumps(line)


def catalogue(folder: Path, count: int) -> Path:
    lines = folder / "catalogue.jsonl"
    with lines.open("w") as output:
        per_set = count // SETS
        for number in range(per_set * SETS):
            host, place = f"host{number % SETS}.example.org", number // SETS
            # NOTE: each set's newest backup is a level 3, whose chain is 4 long, at any size
            level = 3 - (per_set - 1 - place) % 4
            output.write(record(host, "etc", START + number * 60, level))
            output.write("\n")
        for number in range(10):
            output.write(objective(number) + "\n")
    return imported(folder, lines)


def measure(conf: Path, folder: Path, count: int, repeat: int) -> dict[str, tuple[float, float]]:
    port = int(conf.read_text().split("bind_port = ")[1].split()[0])
    base = f"http://127.0.0.1:{port}/v2/p1"
    session = requests.Session()

    def compliance() -> Any:
        answer = session.get(f"{base}/compliance", params={"limit": SETS}, headers=HEADERS)
        assert len(answer.json()["backup_sets"]) == SETS, answer.text[:300]
        return answer

    calls: dict[str, Callable[[], Any]] = {
        "compliance, 1,000 sets": compliance,
        "events, first page of 100": lambda: session.get(
            f"{base}/events", params={"limit": 100}, headers=HEADERS
        ),
        "events, 100 from the middle": lambda: session.get(
            f"{base}/events", params={"limit": 100, "since": count // 2}, headers=HEADERS
        ),
    }
    argv = [str(BIN / "freezer-api"), "--config-file", str(conf)]
    with running(argv, f"http://127.0.0.1:{port}/", folder / "api.log"):
        return {name: timed(call, repeat) for name, call in calls.items()}


def main() -> None:
    by_size_main(__doc__, catalogue, measure)


if __name__ == "__main__":
    main()
