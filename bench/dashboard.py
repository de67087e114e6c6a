# SPDX-License-Identifier: Apache-2.0
"""The dashboard's pages by catalogue size.

    python bench/dashboard.py [--counts 10000 1000000] [--repeat 10]

The catalogue of ``bench/monitoring.py`` (1,000 backup sets of one project, levels 0-3, 10
freshness objectives, a create event per record), served by one ``freezer-api``; each page
is fetched ``--repeat`` times over loopback, whole (the median, and the slowest): the
backup sets (first page, and a page from the middle), a set's backups with their chains
and timeline (newest page, and one from the middle of the set), the events (latest, and a
page from the middle of the feed), and a search by host name and by backup id.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitoring import SETS, catalogue  # noqa: E402
from restore_points import HEADERS, START, by_size_main, timed  # noqa: E402

from freezer_api.storage.base import set_key  # noqa: E402
from tests.processes import BIN, running  # noqa: E402

BROWSER = {**HEADERS, "Accept": "text/html,*/*;q=0.8"}


def measure(conf: Path, folder: Path, count: int, repeat: int) -> dict[str, tuple[float, float]]:
    port = int(conf.read_text().split("bind_port = ")[1].split()[0])
    root = f"http://127.0.0.1:{port}"
    base = f"{root}/dashboard"
    session = requests.Session()
    per_set = count // SETS
    # NOTE: host 7's backups are numbers 7, 1007, 2007, ...: the middle one's time stamp
    middle = START + (7 + SETS * (per_set // 2)) * 60

    def get(path: str, **params: Any) -> Callable[[], Any]:
        return lambda: session.get(f"{base}{path}", params=params, headers=BROWSER)

    one_set = {"hostname": "host7.example.org", "backup_name": "etc"}
    calls: dict[str, Callable[[], Any]] = {
        "backup sets, first page": get("/"),
        "backup sets, page from the middle": get(
            "/", marker=set_key("host500.example.org", "etc", "freezer")
        ),
        "a set's backups and chains, newest": get("/set", **one_set),
        "a set's backups and chains, middle": get("/set", **one_set, marker=f"{middle}:0"),
        "events, latest": get("/events"),
        "events, from the middle": get("/events", before=str(count // 2)),
        "search, a host name": get("/search", q="host7.example.org"),
        "search, a backup id": lambda: get("/search", q=picked[0])(),
        "jobs": get("/jobs"),
    }
    picked: list[str] = []
    argv = [str(BIN / "freezer-api"), "--config-file", str(conf)]
    with running(argv, f"{root}/", folder / "api.log"):
        listed = session.get(
            f"{root}/v2/p1/backups",
            params={"limit": "1", "search": "host9.example.org"},
            headers=HEADERS,
        )
        picked.append(listed.json()["backups"][0]["backup_id"])
        return {name: timed(call, repeat) for name, call in calls.items()}


def main() -> None:
    by_size_main(__doc__, catalogue, measure)


if __name__ == "__main__":
    main()
