# SPDX-License-Identifier: Apache-2.0
"""``freezer-manage``: database administration. Exits non-zero on any failure."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import IO, Any

from freezer_api import search, version
from freezer_api.app import backend
from freezer_api.cli import progress
from freezer_api.config import Settings, load_settings
from freezer_api.errors import FreezerError
from freezer_api.service import chains, elastic, legacy, retention
from freezer_api.storage import open_backend
from freezer_api.storage.base import Backend, Document, SchemaNotReady


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="freezer-manage", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    parser.add_argument("--config-file", action="append", default=[], metavar="PATH")
    groups = parser.add_subparsers(dest="group", required=True)
    database = groups.add_parser("db", help="database schema")
    commands = database.add_subparsers(dest="command", required=True)
    commands.add_parser("sync", help="create or upgrade the schema to the current revision")
    commands.add_parser("version", help="print the schema revision of the database")
    export = commands.add_parser(
        "export", help="write every record as JSON lines, from one consistent snapshot"
    )
    export.add_argument("--output", "-o", metavar="PATH", help="file to write (default: stdout)")
    load = commands.add_parser(
        "import", help="load JSON lines from 'db export', or a freezer-api 19.0.0 database"
    )
    load.add_argument(
        "--dry-run",
        action="store_true",
        help="check and insert everything, then roll it back: say what would be imported",
    )
    load.add_argument(
        "--batch-size",
        type=positive,
        metavar="N",
        help="commit every N records on their own instead of all in one transaction (for a "
        "Galera cluster's writeset limit); an error then leaves the batches before it",
    )
    load.add_argument(
        "--skip-existing",
        action="store_true",
        help="leave out records whose id is already stored (to go on after a batched import "
        "stopped)",
    )
    source = load.add_mutually_exclusive_group()
    source.add_argument("--input", "-i", metavar="PATH", help="file to read (default: stdin)")
    source.add_argument(
        "--from-freezer-api",
        metavar="URL",
        help="SQLAlchemy URL of a freezer-api 19.0.0 database to copy from",
    )
    source.add_argument(
        "--from-elasticsearch",
        metavar="URL",
        help="an Elasticsearch or OpenSearch that holds an Elasticsearch-backed freezer-api's "
        "index (http://host:9200): read it over HTTP, by scroll pages",
    )
    source.add_argument(
        "--from-elasticsearch-dump",
        metavar="PATH",
        help="a dump of such an index: elasticdump's lines, or one document per line",
    )
    load.add_argument(
        "--index", default="freezer", help="the index of --from-elasticsearch (freezer)"
    )
    load.add_argument(
        "--default-project-id",
        metavar="ID",
        help="the project of the index's v1 documents, which name none (else they are refused "
        "and reported)",
    )
    _retention_parser(groups)
    search = groups.add_parser(
        "search", help="the OpenSearch index of the catalogue ([search] in the config file)"
    )
    search_commands = search.add_subparsers(dest="command", required=True)
    follow = search_commands.add_parser(
        "sync", help="apply the change feed to the index, from the cursor the index keeps"
    )
    follow.add_argument("--limit", type=positive, metavar="N", help="at most N events")
    search_commands.add_parser(
        "reindex",
        help="index every record of a snapshot of the catalogue, then the feed since",
    )
    events = groups.add_parser("events", help="the change feed (GET /v2/{project_id}/events)")
    events_commands = events.add_subparsers(dest="command", required=True)
    purge = events_commands.add_parser(
        "purge", help="delete the events older than a time; older cursors then answer 410"
    )
    purge.add_argument(
        "--before",
        required=True,
        metavar="TIME",
        help="an ISO 8601 time (UTC unless it says), seconds since the epoch, or an age "
        "such as 30d (units h, d, w, y)",
    )
    for command in (export, load):
        command.add_argument(
            "--progress-every",
            type=float,
            default=10.0,
            metavar="SECONDS",
            help="when stderr is not a terminal, say how far it has gone this often (10)",
        )
    return parser


def _retention_parser(groups: Any) -> None:
    group = groups.add_parser("retention", help="chain-aware retention of backups")
    commands = group.add_subparsers(dest="command", required=True)
    apply = commands.add_parser(
        "apply",
        help="delete, in every project (or those named), the backups the keep rules expire: "
        "what POST /v2/{project_id}/retention/preview lists",
    )
    apply.add_argument(
        "--keep",
        action="append",
        required=True,
        metavar="RULE=VALUE",
        help="a keep rule: last=N, hourly=N, daily=N, weekly=N, monthly=N, yearly=N, "
        "within=DURATION (30d, 1w3d12h); repeat for several",
    )
    for name in ("hostname", "backup_name", "container"):
        apply.add_argument(f"--{name.replace('_', '-')}", dest=name, help=f"select sets by {name}")
    apply.add_argument("--all-sets", action="store_true", help="every set (instead of naming some)")
    apply.add_argument(
        "--project", action="append", default=[], metavar="ID", help="only this project (repeat)"
    )
    apply.add_argument(
        "--dry-run", action="store_true", help="say what would be deleted; delete nothing"
    )


def retention_apply(settings: Settings, args: argparse.Namespace) -> str:
    selector = {
        name: getattr(args, name)
        for name in ("hostname", "backup_name", "container")
        if getattr(args, name)
    }
    if bool(selector) == args.all_sets:
        raise ValueError(
            "name the sets with --hostname, --backup-name or --container, or --all-sets"
        )
    keep: dict[str, Any] = {}
    for rule in args.keep:
        name, _, value = rule.partition("=")
        keep[name] = value if name == "within" else _count(name, value)
    policy = retention.Policy(selector, *retention.parse_keep(keep))
    storage = ready(settings).open()
    lines = []
    try:
        projects = args.project or storage.backup_sets.projects()
        for project_id in projects:
            decision = retention.preview(storage.backup_sets, project_id, policy)
            total = len(decision.keep) + len(decision.expire)
            if args.dry_run:
                ids = " ".join(entry["backup_id"] for entry in decision.expire)
                lines.append(
                    f"project {project_id}: would delete {len(decision.expire)} of {total} "
                    f"backups{': ' + ids if ids else ''}"
                )
                continue
            deleted = retention.apply(storage, project_id, policy, decision.fingerprint)
            lines.append(f"project {project_id}: deleted {len(deleted)} of {total} backups")
    finally:
        storage.close()
    return "\n".join(lines) or "no project has backups"


def events_purge(settings: Settings, args: argparse.Namespace) -> str:
    text = args.before
    if text and not retention.DURATION.sub("", text):
        before = int(time.time()) - retention.duration(text)
    else:
        before = chains.parse_time(text)
    storage = ready(settings).open()
    try:
        deleted = storage.events.purge(before=before)
        oldest = storage.events.purged()
    finally:
        storage.close()
    return f"purged {deleted} events before {chains.iso(before)}; cursors from {oldest} on are kept"


def _count(name: str, value: str) -> int:
    if not value.isdigit():
        raise ValueError(f"--keep {name}= takes a whole number, not {value!r}")
    return int(value)


def positive(text: str) -> int:
    number = int(text)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {number}")
    return number


def db_sync(settings: Settings, args: argparse.Namespace) -> str:
    return f"database schema is at revision {backend(settings).upgrade()}"


def db_version(settings: Settings, args: argparse.Namespace) -> str:
    return backend(settings).version() or "none"


def ready(settings: Settings) -> Backend:
    """The backend of ``settings``, whose schema is the one this code needs."""
    target = backend(settings)
    problems = target.check()
    if problems:
        raise SchemaNotReady("; ".join(problems))
    return target


def db_export(settings: Settings, args: argparse.Namespace) -> str:
    source = ready(settings)
    output: IO[str] = open(args.output, "w") if args.output else sys.stdout  # noqa: SIM115
    try:
        for record in progress.counted(source.export(), "exported", every=args.progress_every):
            output.write(json.dumps(record, separators=(",", ":")) + "\n")
    finally:
        if output is not sys.stdout:
            output.close()
    return ""


class Lines:
    """The records of a JSON-lines file, remembering the line the last one came from."""

    def __init__(self, source: IO[str]) -> None:
        self._source = source
        self.number = 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for number, line in enumerate(self._source, 1):
            self.number = number
            if line.strip():
                try:
                    yield json.loads(line)
                except ValueError as error:
                    raise ValueError(f"not JSON: {error}") from None


def db_import(settings: Settings, args: argparse.Namespace) -> str:
    target = ready(settings)
    if args.from_freezer_api:
        legacy_source = open_backend(args.from_freezer_api)
        records = legacy.legacy_records(legacy_source.read_freezer_api_19)
        counts = _imported(target, records, args)
    elif args.from_elasticsearch or args.from_elasticsearch_dump:
        return _from_elasticsearch(target, args)
    else:
        with open(args.input) if args.input else contextlib.nullcontext(sys.stdin) as source:
            lines = Lines(source)
            try:
                counts = _imported(target, lines, args)
            except (ValueError, FreezerError) as error:
                where = args.input or "stdin"
                raise ValueError(f"{where} line {lines.number}: {error}") from None
    summary = ", ".join(f"{count} {kind}" for kind, count in sorted(counts.items()))
    if args.dry_run:
        return f"would import {summary or 'nothing'} (dry run: nothing was written)"
    return f"imported {summary or 'nothing'}"


def _from_elasticsearch(target: Backend, args: argparse.Namespace) -> str:
    """Import an Elasticsearch-backed freezer-api's index (or its dump), idempotently: the
    records already stored (by id) are left as they are."""
    report = elastic.Report()
    converter = elastic.Converter(args.default_project_id, report)
    args.skip_existing = True
    if args.from_elasticsearch:
        counts = _imported(
            target, converter.records(elastic.index_hits(args.from_elasticsearch, args.index)), args
        )
    else:
        with open(args.from_elasticsearch_dump) as lines:
            counts = _imported(target, converter.records(elastic.dump_hits(lines)), args)
    read = ", ".join(f"{count} {kind}" for kind, count in sorted(report.read.items()))
    skipped = counts.pop("skipped", 0)
    stored = ", ".join(f"{count} {kind}" for kind, count in sorted(counts.items()) if count)
    verb = "would import" if args.dry_run else "imported"
    return (
        f"read {read or 'nothing'}; {verb} {stored or 'nothing'}"
        + (f" ({skipped} already stored)" if skipped else "")
        + f"; {report.summary()}"
        + (" (dry run: nothing was written)" if args.dry_run else "")
    )


def _imported(
    target: Backend, records: Iterable[Document], args: argparse.Namespace
) -> Counter[str]:
    read = progress.counted(records, "read", every=args.progress_every)
    return target.import_records(
        read,
        dry_run=args.dry_run,
        batch_size=args.batch_size,
        skip_existing=args.skip_existing,
    )


def _search_index(settings: Settings) -> tuple[Backend, search.SearchIndex]:
    conf = settings.conf
    assert conf is not None
    target = ready(settings)
    return target, search.SearchIndex(search.client(conf), conf.search.index)


def search_sync(settings: Settings, args: argparse.Namespace) -> str:
    target, index = _search_index(settings)
    storage = target.open()
    try:
        outcome = search.sync(storage, index, limit=args.limit)
    finally:
        storage.close()
    return (
        f"indexed {outcome.indexed}, deleted {outcome.deleted}, {outcome.stale} already newer; "
        f"cursor {outcome.cursor}"
    )


def search_reindex(settings: Settings, args: argparse.Namespace) -> str:
    target, index = _search_index(settings)
    storage = target.open()
    try:
        outcome = search.reindex(target, storage, index)
    finally:
        storage.close()
    return f"indexed {outcome.indexed}, deleted {outcome.deleted}; cursor {outcome.cursor}"


COMMANDS: dict[tuple[str, str], Callable[[Settings, argparse.Namespace], str]] = {
    ("db", "sync"): db_sync,
    ("db", "version"): db_version,
    ("db", "export"): db_export,
    ("db", "import"): db_import,
    ("retention", "apply"): retention_apply,
    ("events", "purge"): events_purge,
    ("search", "sync"): search_sync,
    ("search", "reindex"): search_reindex,
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
