# SPDX-License-Identifier: Apache-2.0
"""Backup chains and restore points, derived from what agents send.

A backup set is a project's backups of one (hostname, backup_name, container). Within a
set, ordered by time stamp, a level-n backup depends on the nearest earlier backup of level
n-1, down to a level 0: its chain. A chain is a restore point when every link is there, none
failed, and its level 0 is known to be self-contained. Nothing is stored beyond an index:
each link is one index seek (``storage.base.BackupSets.backups``), so the chains are always
those of the backups as they are.

NOTE: freezer-agent 19.0.0 reports ``curr_backup_level`` 0 for incremental backups (its
engines return no level), so a level 0 written with ``max_level`` or ``always_level`` set
is not known to be self-contained, unless a level-1 backup of the set depends on it (the
agent that wrote that one reports levels).
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterator
from typing import Any

from freezer_api.errors import InvalidDocument, NotFound
from freezer_api.storage.base import BackupSets, SetBackup, SetNames, set_key

#: the v2 statuses (``available``, ``creating``, ``error``, ``deleting``, ``deleted``) of
#: backups that cannot be restored from, and what the answer calls them
UNUSABLE = {
    "error": "failed backup",
    "creating": "unfinished backup",
    "deleting": "deleted backup",
    "deleted": "deleted backup",
}
#: words of any other ``status`` that says the backup failed
FAILED_WORDS = ("fail", "error", "broken", "corrupt", "abort", "cancel")
#: backups of a set read at a time while looking for restore points (the first time, and
#: after that)
FIRST_SCAN, SCAN = 4, 64
#: longest chain followed (a level beyond it is not believed)
MAX_LEVEL = 1000
#: most dependents listed for one backup
MAX_DEPENDENTS = 10000


def unusable(status: str | None) -> str | None:
    """What makes a backup of this status unusable for a restore; None if nothing."""
    if status is None:
        return None
    if status in UNUSABLE:
        return UNUSABLE[status]
    if any(word in status.lower() for word in FAILED_WORDS):
        return "failed backup"
    return None


def _metadata(backup: SetBackup) -> dict[str, Any]:
    metadata = backup.doc.get("backup_metadata")
    return metadata if isinstance(metadata, dict) else {}


def _incremental_settings(backup: SetBackup) -> bool:
    metadata = _metadata(backup)
    return any(metadata.get(key) not in (None, "", 0, "0") for key in ("max_level", "always_level"))


@dataclasses.dataclass(frozen=True)
class Chain:
    """A backup and the backups it depends on, oldest first; ``problem`` says why it is not
    a restore point (None when it is)."""

    backups: tuple[SetBackup, ...]
    problem: str | None

    @property
    def head(self) -> SetBackup:
        return self.backups[-1]


@dataclasses.dataclass(frozen=True)
class SetName:
    hostname: str
    backup_name: str
    container: str | None

    @property
    def key(self) -> str:
        return set_key(self.hostname, self.backup_name, self.container)


class Chains:
    """Chains and restore points of one project's backup sets."""

    def __init__(self, sets: BackupSets, project_id: str) -> None:
        self._sets = sets
        self._project_id = project_id

    def chain(self, name: SetName, backup: SetBackup) -> Chain:
        """``backup``'s chain, and why it is not a restore point (None if it is)."""
        links = [backup]
        current = backup
        while current.level is not None and current.level > 0:
            if current.level > MAX_LEVEL or len(links) > MAX_LEVEL:
                return Chain(tuple(reversed(links)), f"unknown level: {current.level}")
            found = self._sets.backups(
                project_id=self._project_id,
                key=name.key,
                level=current.level - 1,
                before=(current.time_stamp, current.order),
            )
            if not found:
                return Chain(
                    tuple(reversed(links)),
                    f"missing link: no level {current.level - 1} backup before {current.backup_id}",
                )
            current = found[0]
            links.append(current)
        chain = tuple(reversed(links))
        return Chain(chain, _problem(chain))

    def restore_point(self, name: SetName, at: int | None) -> tuple[Chain | None, list[Chain]]:
        """The newest restore point at or before ``at`` (None if there is none), and the
        newer chains passed over."""
        skipped: list[Chain] = []
        for backup in self._newest_first(name, at):
            chain = self.chain(name, backup)
            if chain.problem is None:
                return chain, skipped
            skipped.append(chain)
        return None, skipped

    def restore_points(
        self, name: SetName, after: tuple[int, int] | None, limit: int
    ) -> tuple[list[Chain], tuple[int, int] | None]:
        """Up to ``limit`` restore points, newest first, older than the backup ordered at
        ``after``; and where the next page starts (None at the end)."""
        points: list[Chain] = []
        last = after
        for backup in self._newest_first(name, None, after):
            last = (backup.time_stamp, backup.order)
            chain = self.chain(name, backup)
            if chain.problem is None:
                points.append(chain)
                if len(points) == limit:
                    return points, last
        return points, None

    def dependents(self, key: str, backup: SetBackup) -> list[SetBackup]:
        """Every backup whose chain holds ``backup``, oldest first: the level n+1 backups
        after it and before the next level n one, theirs, and so on."""
        found: list[SetBackup] = []
        parents = [backup]
        while parents:
            parent = parents.pop()
            if parent.level is None or parent.level >= MAX_LEVEL:
                continue
            after = (parent.time_stamp, parent.order)
            same = self._sets.backups(
                project_id=self._project_id,
                key=key,
                level=parent.level,
                after=after,
                oldest_first=True,
            )
            children = self._sets.backups(
                project_id=self._project_id,
                key=key,
                level=parent.level + 1,
                after=after,
                before=(same[0].time_stamp, same[0].order) if same else None,
                oldest_first=True,
                limit=MAX_DEPENDENTS,
            )
            found += children
            parents += children
            if len(found) >= MAX_DEPENDENTS:
                break
        found.sort(key=lambda each: (each.time_stamp, each.order))
        return found[:MAX_DEPENDENTS]

    def last_restorable(self, found: SetNames) -> SetBackup | None:
        chain = self.last_restorable_chain(found)
        return None if chain is None else chain.head

    def last_restorable_chain(self, found: SetNames) -> Chain | None:
        """The chain of the set's newest restore point; None when it has none."""
        if found.hostname is None or found.backup_name is None:
            return None
        name = SetName(found.hostname, found.backup_name, found.container)
        chain, _ = self.restore_point(name, None)
        return chain

    def _newest_first(
        self, name: SetName, at: int | None, after: tuple[int, int] | None = None
    ) -> Iterator[SetBackup]:
        before = after
        # PERF: the newest backup is most often the answer: a small first page
        size = FIRST_SCAN
        while True:
            page = self._sets.backups(
                project_id=self._project_id, key=name.key, before=before, at_most=at, limit=size
            )
            yield from page
            if len(page) < size:
                return
            before = (page[-1].time_stamp, page[-1].order)
            size = SCAN


def chains_of_set(backups: list[SetBackup]) -> dict[str, Chain]:
    """Every backup's chain, from all of a set's backups at once (one pass, oldest first):
    what ``Chains.chain`` finds by index seeks, for a whole set."""
    latest: dict[int, SetBackup] = {}
    parent_chain: dict[str, tuple[tuple[SetBackup, ...], str | None]] = {}
    found: dict[str, Chain] = {}
    for backup in sorted(backups, key=lambda each: (each.time_stamp, each.order)):
        level = backup.level
        if level is None or level == 0:
            links: tuple[SetBackup, ...] = (backup,)
            missing = None
        elif level > MAX_LEVEL:
            links, missing = (backup,), f"unknown level: {level}"
        elif level - 1 not in latest:
            links = (backup,)
            missing = f"missing link: no level {level - 1} backup before {backup.backup_id}"
        else:
            # NOTE: a link missing below the parent is missing for this chain too
            before, missing = parent_chain[latest[level - 1].backup_id]
            links = (*before, backup)
        parent_chain[backup.backup_id] = (links, missing)
        found[backup.backup_id] = Chain(links, missing or _problem(links))
        if level is not None:
            latest[level] = backup
    return found


def _problem(chain: tuple[SetBackup, ...]) -> str | None:
    root = chain[0]
    if root.level is None:
        return f"unknown level: backup {root.backup_id} has no curr_backup_level"
    for backup in chain:
        why = unusable(backup.status)
        if why is not None:
            return f"{why}: {backup.backup_id} has status {backup.status!r}"
    if len(chain) == 1 and _incremental_settings(root):
        return (
            f"unknown level: backup {root.backup_id} reports level 0 with max_level or "
            "always_level set, which freezer-agent 19.0.0 also reports for incremental "
            "backups: it is not known to be self-contained"
        )
    return None


def iso(time_stamp: int) -> str:
    moment = datetime.datetime.fromtimestamp(time_stamp, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def link_view(backup: SetBackup) -> dict[str, Any]:
    metadata = _metadata(backup)
    return {
        "backup_id": backup.backup_id,
        "level": backup.level,
        "time_stamp": backup.time_stamp,
        "status": backup.status,
        "storage": metadata.get("storage"),
        "container": metadata.get("container"),
    }


def agent_options(name: SetName, chain: Chain) -> dict[str, Any]:
    """The ``freezer-agent`` 19.0.0 options that restore ``chain``'s newest backup: the
    agent picks the newest backup at or before ``--restore-from-date``."""
    metadata = _metadata(chain.head)
    options: dict[str, Any] = {
        "action": "restore",
        "backup_name": name.backup_name,
        "container": name.container,
        "hostname": name.hostname,
        "restore_from_date": iso(chain.head.time_stamp),
    }
    for key in ("storage", "mode", "engine_name"):
        value = metadata.get(key)
        if value not in (None, ""):
            options["engine" if key == "engine_name" else key] = value
    if metadata.get("path_to_backup"):
        options["restore_abs_path"] = metadata["path_to_backup"]
    return options


def point_view(name: SetName, chain: Chain) -> dict[str, Any]:
    return {
        "backup_id": chain.head.backup_id,
        "time_stamp": chain.head.time_stamp,
        "chain": [link_view(backup) for backup in chain.backups],
        "agent_options": agent_options(name, chain),
    }


def skipped_view(chain: Chain) -> dict[str, Any]:
    return {"backup_id": chain.head.backup_id, "reason": chain.problem}


def parse_time(text: str) -> int:
    """A time given as seconds since the epoch or as an ISO 8601 date and time (UTC
    unless it says otherwise)."""
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidDocument(
            f"The time {text!r} is neither seconds since the epoch nor an ISO 8601 date."
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return int(moment.timestamp())


def set_name(sets: BackupSets, project_id: str, params: dict[str, str]) -> SetName:
    """The set a query names: hostname and backup_name, and the container when the host
    and name have backups in more than one."""
    missing = [key for key in ("hostname", "backup_name") if not params.get(key)]
    if missing:
        raise InvalidDocument(
            f"A backup set is named by hostname and backup_name; missing {missing}."
        )
    hostname, backup_name = params["hostname"], params["backup_name"]
    if "container" in params:
        return SetName(hostname, backup_name, params["container"])
    containers = sets.containers(project_id=project_id, hostname=hostname, backup_name=backup_name)
    if not containers:
        raise NotFound(f"No backups of {backup_name!r} on {hostname!r}.")
    if len(containers) > 1:
        raise InvalidDocument(
            f"The backups of {backup_name!r} on {hostname!r} are in several containers "
            f"({', '.join(repr(name) for name in containers)}): name one with container."
        )
    return SetName(hostname, backup_name, containers[0])
