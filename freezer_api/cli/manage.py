# SPDX-License-Identifier: Apache-2.0
"""``freezer-manage``: database administration. Exits non-zero on any failure."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from freezer_api.app import storage_options
from freezer_api.config import Settings, load_settings
from freezer_api.storage.sql import engine as engines
from freezer_api.storage.sql import migrate


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="freezer-manage", description=__doc__)
    parser.add_argument("--config-file", action="append", default=[], metavar="PATH")
    groups = parser.add_subparsers(dest="group", required=True)
    database = groups.add_parser("db", help="database schema")
    commands = database.add_subparsers(dest="command", required=True)
    commands.add_parser("sync", help="create or upgrade the schema to the current revision")
    commands.add_parser("version", help="print the schema revision of the database")
    return parser


def db_sync(settings: Settings) -> str:
    migrate.upgrade_url(settings.database_url, storage_options(settings))
    return f"database schema is at revision {migrate.head()}"


def db_version(settings: Settings) -> str:
    engine = engines.create_db_engine(settings.database_url, storage_options(settings))
    try:
        found = migrate.current(engine)
    finally:
        engine.dispose()
    return found or "none"


COMMANDS = {("db", "sync"): db_sync, ("db", "version"): db_version}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    config_args = [item for path in args.config_file for item in ("--config-file", path)]
    try:
        settings = load_settings(config_args)
        print(COMMANDS[(args.group, args.command)](settings))
    except Exception as error:  # noqa: BLE001 - report any failure and exit non-zero
        print(f"freezer-manage: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
