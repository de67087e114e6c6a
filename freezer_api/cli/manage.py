# SPDX-License-Identifier: Apache-2.0
"""``freezer-manage``: database administration. Exits non-zero on any failure."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any

from freezer_api import version
from freezer_api.app import backend
from freezer_api.config import Settings, load_settings
from freezer_api.service import legacy
from freezer_api.storage import open_backend


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="freezer-manage", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    parser.add_argument("--config-file", action="append", default=[], metavar="PATH")
    groups = parser.add_subparsers(dest="group", required=True)
    database = groups.add_parser("db", help="database schema")
    commands = database.add_subparsers(dest="command", required=True)
    commands.add_parser("sync", help="create or upgrade the schema to the current revision")
    commands.add_parser("version", help="print the schema revision of the database")
    export = commands.add_parser("export", help="write every record as JSON lines")
    export.add_argument("--output", "-o", metavar="PATH", help="file to write (default: stdout)")
    load = commands.add_parser(
        "import", help="load JSON lines from 'db export', or a freezer-api 19.0.0 database"
    )
    source = load.add_mutually_exclusive_group()
    source.add_argument("--input", "-i", metavar="PATH", help="file to read (default: stdin)")
    source.add_argument(
        "--from-freezer-api",
        metavar="URL",
        help="SQLAlchemy URL of a freezer-api 19.0.0 database to copy from",
    )
    return parser


def db_sync(settings: Settings, args: argparse.Namespace) -> str:
    return f"database schema is at revision {backend(settings).upgrade()}"


def db_version(settings: Settings, args: argparse.Namespace) -> str:
    return backend(settings).version() or "none"


def db_export(settings: Settings, args: argparse.Namespace) -> str:
    output: IO[str] = open(args.output, "w") if args.output else sys.stdout  # noqa: SIM115
    count = 0
    try:
        for record in backend(settings).export():
            output.write(json.dumps(record, separators=(",", ":")) + "\n")
            count += 1
    finally:
        if output is not sys.stdout:
            output.close()
    print(f"exported {count} records", file=sys.stderr)
    return ""


def _lines(source: IO[str]) -> Iterator[dict[str, Any]]:
    for number, line in enumerate(source, 1):
        if line.strip():
            try:
                yield json.loads(line)
            except ValueError as error:
                raise ValueError(f"line {number} is not JSON: {error}") from None


def db_import(settings: Settings, args: argparse.Namespace) -> str:
    target = backend(settings)
    if args.from_freezer_api:
        rows = open_backend(args.from_freezer_api).read_freezer_api_19()
        counts = target.import_records(list(legacy.legacy_records(rows)))
    elif args.input:
        with open(args.input) as source:
            counts = target.import_records(_lines(source))
    else:
        counts = target.import_records(_lines(sys.stdin))
    summary = ", ".join(f"{count} {kind}" for kind, count in sorted(counts.items()))
    return f"imported {summary or 'nothing'}"


COMMANDS: dict[tuple[str, str], Callable[[Settings, argparse.Namespace], str]] = {
    ("db", "sync"): db_sync,
    ("db", "version"): db_version,
    ("db", "export"): db_export,
    ("db", "import"): db_import,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    config_args = [item for path in args.config_file for item in ("--config-file", path)]
    try:
        settings = load_settings(config_args)
        said = COMMANDS[(args.group, args.command)](settings, args)
        if said:
            print(said)
    except Exception as error:  # noqa: BLE001 - report any failure and exit non-zero
        print(f"freezer-manage: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
