# SPDX-License-Identifier: Apache-2.0
"""This server under each WSGI server candidate, side by side, in rounds.

    python bench/wsgi_servers.py [--rows 10000] [--concurrency 16] [--rounds 2] [--threads 4]

Every candidate of ``servers.SERVERS`` (uwsgi, the freezer-api command, gunicorn's sync
workers, granian, pyuwsgi's binary wheel when $FREEZER_BENCH_PYUWSGI_VENV names a
virtualenv with it and this project) serves the same SQLite catalogue with 2 processes;
wrk measures GET by id, pages of 10 and 100, and POST. Rounds alternate the candidates, so
that the machine's slow stretches fall on all of them. Prints a Markdown table of req/s
and CPU ms per request (means over the rounds).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scenarios import measure, scenarios  # noqa: E402
from servers import SERVERS, ours  # noqa: E402

CELLS = ("GET backup by id", "list, limit=10", "list, limit=100", "POST backup")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument(
        "--threads",
        type=int,
        default=4,
        help="threads per process, where "
        "the server has them (uwsgi, granian, freezer-api's configuration)",
    )
    args = parser.parse_args()
    candidates = [
        server
        for server in SERVERS
        if server != "pyuwsgi" or os.environ.get("FREEZER_BENCH_PYUWSGI_VENV")
    ]
    plans = scenarios()
    rates: dict[tuple[str, str], list[float]] = defaultdict(list)
    costs: dict[tuple[str, str], list[float]] = defaultdict(list)
    for _ in range(args.rounds):
        for candidate in candidates:
            with tempfile.TemporaryDirectory() as name:
                directory = Path(name)
                url = f"sqlite:///{directory / 'catalogue.db'}"
                with ours(directory, args.rows, candidate, url, args.threads) as server:
                    ids = directory / "ids-ours.txt"
                    for cell in CELLS:
                        measure(server, plans[cell], ids, args.concurrency, 1)  # warm up
                        result = measure(server, plans[cell], ids, args.concurrency, args.duration)
                        rates[(candidate, cell)].append(result.requests_per_s)
                        costs[(candidate, cell)].append(result.cpu_ms)
    print(
        f"{args.rows:,} backups on SQLite, 2 processes, {args.threads} threads where the "
        f"server has them, {args.concurrency} clients, {args.rounds} rounds (mean)\n"
    )
    print("| server | " + " | ".join(f"{cell} req/s (CPU ms)" for cell in CELLS) + " |")
    print("|---|" + "---|" * len(CELLS))
    for candidate in candidates:
        cells = []
        for cell in CELLS:
            rate = sum(rates[(candidate, cell)]) / args.rounds
            cost = sum(costs[(candidate, cell)]) / args.rounds
            cells.append(f"{rate:,.0f} ({cost:.2f})")
        print(f"| {candidate} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
