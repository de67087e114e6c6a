# SPDX-License-Identifier: Apache-2.0
"""Chain-aware retention: which backups of some sets to keep, which may go, and why.

Rules keep restore points (``chains``): the ``last`` N; the newest of each of the N newest
hours, days, ISO weeks, months or years that have one (``hourly`` ... ``yearly``, in UTC);
every one ``within`` a duration of the set's newest backup. A kept point keeps its whole
chain. Of the rest, what cannot be restored from anyway (a failed chain, a missing link)
and restore points no rule keeps expire; a backup still being written (``creating``) or
whose chain is unknown is kept, since nothing proves it may go. A preview says all of it,
with a fingerprint of the backups it saw; an apply with that fingerprint deletes exactly
the previewed backups, or nothing when the catalogue changed in between.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from freezer_api.errors import InvalidDocument, PreconditionFailed
from freezer_api.service.chains import Chain, chains_of_set
from freezer_api.service.documents import in_transaction
from freezer_api.storage.base import BackupSets, Scope, SetBackup, Storage

SELECTOR_KEYS = ("hostname", "backup_name", "container")
COUNT_RULES = ("last", "hourly", "daily", "weekly", "monthly", "yearly")
#: how each calendar rule names the bucket a time falls in (UTC)
BUCKETS: Mapping[str, Callable[[datetime.datetime], str]] = {
    "hourly": lambda moment: moment.strftime("%Y-%m-%dT%H"),
    "daily": lambda moment: moment.strftime("%Y-%m-%d"),
    "weekly": lambda moment: "{}-W{:02d}".format(*moment.isocalendar()[:2]),
    "monthly": lambda moment: moment.strftime("%Y-%m"),
    "yearly": lambda moment: moment.strftime("%Y"),
}
DURATION = re.compile(r"(\d+)([hdwy])")
#: a whole duration, as JSON schemas write it
DURATION_PATTERN = r"^(\d+[hdwy])+$"
UNIT_SECONDS = {"h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}
#: backups of a set read at a time
PAGE = 1000
#: most sets one preview covers
MAX_SETS = 1000


@dataclasses.dataclass(frozen=True)
class Policy:
    """A validated selector and keep rules."""

    selector: dict[str, str]
    counts: dict[str, int]
    within: tuple[str, int] | None

    def as_json(self) -> dict[str, Any]:
        keep: dict[str, Any] = dict(self.counts)
        if self.within is not None:
            keep["within"] = self.within[0]
        return {"selector": self.selector, "keep": keep}


def duration(text: Any) -> int:
    if not isinstance(text, str) or not text or DURATION.sub("", text):
        raise InvalidDocument(
            f"keep.within must be a duration such as '30d' or '1w3d12h' (units h, d, w, y), "
            f"not {text!r}."
        )
    return sum(int(number) * UNIT_SECONDS[unit] for number, unit in DURATION.findall(text))


def parse_policy(body: Any) -> Policy:
    """The selector and rules of a preview or apply body; 400 for anything else."""
    if not isinstance(body, dict):
        raise InvalidDocument("The body must be an object with a selector and keep rules.")
    unknown = set(body) - {"selector", "keep", "fingerprint"}
    if unknown:
        raise InvalidDocument(f"Unknown keys {sorted(unknown)}; a body has selector, keep.")
    selector = body.get("selector")
    if not isinstance(selector, dict) or not selector:
        raise InvalidDocument(f"selector must name at least one of {list(SELECTOR_KEYS)}.")
    wrong = set(selector) - set(SELECTOR_KEYS)
    if wrong:
        raise InvalidDocument(f"selector has no {sorted(wrong)}; it takes {list(SELECTOR_KEYS)}.")
    for key, value in selector.items():
        if not isinstance(value, str) or not value:
            raise InvalidDocument(f"selector.{key} must be a non-empty string.")
    counts, within = parse_keep(body.get("keep"))
    return Policy(dict(selector), counts, within)


def parse_keep(keep: Any) -> tuple[dict[str, int], tuple[str, int] | None]:
    """The counted rules and the ``within`` rule of ``keep``; 400 for anything else."""
    if not isinstance(keep, dict) or not keep:
        raise InvalidDocument(
            f"keep must name at least one rule of {[*COUNT_RULES, 'within']}: "
            "without one, every backup would expire."
        )
    wrong = set(keep) - {*COUNT_RULES, "within"}
    if wrong:
        known = [*COUNT_RULES, "within"]
        raise InvalidDocument(f"Unknown keep rules {sorted(wrong)}; known: {known}.")
    counts: dict[str, int] = {}
    for rule in COUNT_RULES:
        if rule in keep:
            value = keep[rule]
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidDocument(f"keep.{rule} must be a whole number of 1 or more.")
            counts[rule] = value
    within = None
    if "within" in keep:
        within = (keep["within"], duration(keep["within"]))
    return counts, within


@dataclasses.dataclass
class Decision:
    keep: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    expire: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    fingerprint: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"keep": self.keep, "expire": self.expire, "fingerprint": self.fingerprint}


def decide_set(backups: list[SetBackup], policy: Policy) -> tuple[list[Any], list[Any]]:
    """(keep, expire) of one set's backups: each ``{"backup_id", "reasons"}``, newest first."""
    chains = chains_of_set(backups)
    newest_first = sorted(backups, key=lambda each: (each.time_stamp, each.order), reverse=True)
    points = [each for each in newest_first if chains[each.backup_id].problem is None]
    reasons: dict[str, list[str]] = {each.backup_id: [] for each in backups}
    for point, reason in _kept_by_rules(points, newest_first, policy):
        reasons[point.backup_id].append(reason)
    for backup in newest_first:
        if not reasons[backup.backup_id]:
            reasons[backup.backup_id] = _kept_anyway(backup, chains[backup.backup_id])
    for backup in newest_first:
        if not reasons[backup.backup_id]:
            continue
        # NOTE: what a kept backup's chain holds is kept with it
        for link in chains[backup.backup_id].backups[:-1]:
            needed = f"needed by {backup.backup_id}"
            if needed not in reasons[link.backup_id]:
                reasons[link.backup_id].append(needed)
    keep, expire = [], []
    for backup in newest_first:
        chain = chains[backup.backup_id]
        why = reasons[backup.backup_id]
        if why:
            keep.append({"backup_id": backup.backup_id, "reasons": why})
        else:
            expire.append(
                {"backup_id": backup.backup_id, "reasons": [chain.problem or "no rule keeps it"]}
            )
    return keep, expire


def _kept_by_rules(
    points: list[SetBackup], newest_first: list[SetBackup], policy: Policy
) -> Iterator[tuple[SetBackup, str]]:
    """Each restore point a rule keeps, with the rule (a point may come more than once)."""
    if "last" in policy.counts:
        for point in points[: policy.counts["last"]]:
            yield point, f"last {policy.counts['last']}"
    for rule, bucket_of in BUCKETS.items():
        if rule not in policy.counts:
            continue
        seen: list[str] = []
        for point in points:
            bucket = bucket_of(datetime.datetime.fromtimestamp(point.time_stamp, datetime.UTC))
            if bucket in seen:
                continue
            if len(seen) == policy.counts[rule]:
                break
            seen.append(bucket)
            yield point, f"{rule} {bucket}"
    if policy.within is not None and newest_first:
        text, seconds = policy.within
        for point in points:
            if newest_first[0].time_stamp - point.time_stamp <= seconds:
                yield point, f"within {text} of the newest backup"


def _kept_anyway(backup: SetBackup, chain: Chain) -> list[str]:
    """Why a backup no rule keeps is kept all the same: nothing proves it may go."""
    if backup.status == "creating":
        return ["unfinished: it may still be being written"]
    if chain.problem is not None and chain.problem.startswith("unknown"):
        return [f"not known to be safe to delete: {chain.problem}"]
    return []


def backups_of_sets(
    sets: BackupSets, project_id: str, selector: dict[str, str]
) -> Iterator[list[SetBackup]]:
    """All backups of every set the selector matches, a set at a time."""
    after = None
    count = 0
    while True:
        page = sets.sets(project_id=project_id, names=selector, after=after, limit=100)
        for found in page:
            count += 1
            if count > MAX_SETS:
                raise InvalidDocument(
                    f"The selector matches more than {MAX_SETS} backup sets: narrow it."
                )
            yield list(_all_backups(sets, project_id, found.key))
        if len(page) < 100:
            return
        after = page[-1].key


def _all_backups(sets: BackupSets, project_id: str, key: str) -> Iterator[SetBackup]:
    after = None
    while True:
        page = sets.backups(
            project_id=project_id, key=key, after=after, oldest_first=True, limit=PAGE
        )
        yield from page
        if len(page) < PAGE:
            return
        after = (page[-1].time_stamp, page[-1].order)


def preview(sets: BackupSets, project_id: str, policy: Policy) -> Decision:
    decision = Decision()
    seen = hashlib.sha256(json.dumps(policy.as_json(), sort_keys=True).encode())
    for backups in backups_of_sets(sets, project_id, policy.selector):
        keep, expire = decide_set(backups, policy)
        decision.keep += keep
        decision.expire += expire
        for backup in sorted(backups, key=lambda each: each.backup_id):
            seen.update(f"{backup.backup_id}\0{backup.version}\n".encode())
    decision.fingerprint = seen.hexdigest()
    return decision


def apply(storage: Storage, project_id: str, policy: Policy, fingerprint: str) -> list[str]:
    """Delete what a preview of ``policy`` expires, if the preview still has
    ``fingerprint``; return the ids deleted. Raises PreconditionFailed otherwise.

    NOTE: the preview is made again inside the transaction that deletes, so what it saw
    is what is deleted; a backup written meanwhile changes the fingerprint.
    """

    def run(transaction: Storage) -> list[str]:
        decision = preview(transaction.backup_sets, project_id, policy)
        if decision.fingerprint != fingerprint:
            raise PreconditionFailed(
                "The backups of the selected sets changed since that preview: preview again."
            )
        scope = Scope(project_id=project_id)
        deleted = []
        for entry in decision.expire:
            if transaction.backups.delete(scope=scope, doc_id=entry["backup_id"]):
                deleted.append(entry["backup_id"])
        return deleted

    return in_transaction(storage, run)
