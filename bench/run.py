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
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from profiling import profile, slug
from report import HEADER, row
from scenarios import CEILING_PLAN, NOT_FOR_LEGACY, add_jobs, measure, scenarios, verify
from servers import (
    LEGACY_CANNOT,
    OURS_BIN,
    PROCESSES,
    SERVERS,
    Server,
    ceiling,
    database,
    ensure_legacy_venv,
    legacy,
    ours,
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
        choices=SERVERS,
        default="uwsgi",
        help="WSGI server of this server: uwsgi, as 19.0.0 is served; freezer-api, the "
        "command as installed; or a candidate (gunicorn's sync workers, granian, pyuwsgi's "
        "binary wheel). The ceiling runs under uwsgi, granian (for freezer-api and granian) "
        "or gunicorn",
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
