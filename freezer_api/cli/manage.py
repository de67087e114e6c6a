# SPDX-License-Identifier: Apache-2.0
"""``freezer-manage``: database administration. Exits non-zero on any failure."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import IO, Any

from sqlalchemy import Engine

from freezer_api.app import storage_options
from freezer_api.config import Settings, load_settings
from freezer_api.service import legacy
from freezer_api.storage.sql import engine as engines
from freezer_api.storage.sql import legacy as legacy_reader
from freezer_api.storage.sql import migrate, transfer


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="freezer-manage", description=__doc__)
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
    migrate.upgrade_url(settings.database_url, storage_options(settings))
    return f"database schema is at revision {migrate.head()}"


def db_version(settings: Settings, args: argparse.Namespace) -> str:
    engine = engines.create_db_engine(settings.database_url, storage_options(settings))
    try:
        found = migrate.current(engine)
    finally:
        engine.dispose()
    return found or "none"


def _engine(settings: Settings) -> Engine:
    return engines.create_db_engine(settings.database_url, storage_options(settings))


def db_export(settings: Settings, args: argparse.Namespace) -> str:
    engine = _engine(settings)
    output: IO[str] = open(args.output, "w") if args.output else sys.stdout  # noqa: SIM115
    count = 0
    try:
        for record in transfer.export_records(engine):
            output.write(json.dumps(record, separators=(",", ":")) + "\n")
            count += 1
    finally:
        if output is not sys.stdout:
            output.close()
        engine.dispose()
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
    engine = _engine(settings)
    try:
        if args.from_freezer_api:
            source_engine = engines.create_db_engine(args.from_freezer_api, {})
            try:
                records: Iterable[dict[str, Any]] = list(
                    legacy.legacy_records(legacy_reader.read_legacy(source_engine))
                )
            finally:
                source_engine.dispose()
            counts = transfer.import_records(engine, records)
        elif args.input:
            with open(args.input) as source:
                counts = transfer.import_records(engine, _lines(source))
        else:
            counts = transfer.import_records(engine, _lines(sys.stdin))
    finally:
        engine.dispose()
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
