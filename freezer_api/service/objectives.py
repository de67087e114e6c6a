# SPDX-License-Identifier: Apache-2.0
"""Freshness objectives, and the compliance of every backup set with them.

An objective selects backup sets by any of hostname, backup_name and container (none: every
set of the project) and says how old a set's last restorable backup may be
(``max_age_seconds``), and optionally the level 0 under it (``max_level0_age_seconds``).
A set's state against the strictest objective that selects it:

- ``met``: the last restorable backup (and its level 0) is within the objective;
- ``late``: older, but by no more than the objective again (up to twice its age);
- ``breached``: older than twice the objective;
- ``never``: the set has no restorable backup, or the objective selects no set at all;
- ``uncovered``: no objective selects the set.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from freezer_api.service import chains
from freezer_api.service.documents import Call, Clock, Rules, require_object
from freezer_api.service.schemas import OBJECTIVE, Validator
from freezer_api.service.search import SearchFields
from freezer_api.storage.base import (
    BackupSets,
    Change,
    Page,
    Query,
    Record,
    Scope,
    SetNames,
    Storage,
)

SELECTOR_NAMES = ("hostname", "backup_name", "container")
#: the states, from the best to the worst
STATES = ("met", "late", "breached", "never")
#: every state a set can be in, ``uncovered`` for a set no objective selects
ALL_STATES = (*STATES, "uncovered")
#: most objectives one compliance answer weighs
MAX_OBJECTIVES = 1000


class ObjectiveRules(Rules):
    plural = "objectives"
    noun = "objective"
    creates_alone = True
    schema = OBJECTIVE
    search_fields = SearchFields(
        columns={"objective_id": "doc_id", "user_id": "user_id"},
        path_of=lambda key: ("selector", key) if key in SELECTOR_NAMES else (key,),
        text=("doc_id",),
        sortable={"objective_id": "doc_id"},
    )

    def __init__(self) -> None:
        self._validator = Validator(self.schema, "objective")

    def new_record(self, call: Call, storage: Storage, body: Any, doc_id: str | None) -> Record:
        document = self._document(body)
        objective_id = doc_id or document.pop("objective_id", None) or uuid.uuid4().hex
        document.pop("objective_id", None)
        return call.new_record(objective_id, document, {})

    def patched(self, call: Call, storage: Storage, record: Record, body: Any) -> Change:
        body = require_object(body, "A PATCH body")
        body.pop("objective_id", None)
        return Change(doc=self._document({**record.doc, **body}), fields={})

    def replaced(self, call: Call, storage: Storage, record: Record, body: Any) -> Change:
        body = require_object(body, "An objective")
        body.pop("objective_id", None)
        return Change(doc=self._document(body), fields={})

    def _document(self, body: Any) -> dict[str, Any]:
        body = require_object(body, "An objective")
        self._validator.check(body)
        return {"selector": {}, **body}


@dataclasses.dataclass(frozen=True)
class Objective:
    objective_id: str
    selector: dict[str, str]
    max_age: int
    max_level0_age: int | None

    def agrees(self, names: dict[str, str]) -> bool:
        """The selector names no other value of what ``names`` names."""
        return all(self.selector.get(key, value) == value for key, value in names.items())

    def selects(self, backup_set: SetNames) -> bool:
        return all(getattr(backup_set, name) == value for name, value in self.selector.items())

    @staticmethod
    def of(record: Record) -> Objective:
        doc = record.doc
        return Objective(
            record.doc_id,
            dict(doc.get("selector") or {}),
            int(doc["max_age_seconds"]),
            doc.get("max_level0_age_seconds"),
        )


def state_of(age: int, allowed: int) -> str:
    if age <= allowed:
        return "met"
    return "late" if age <= 2 * allowed else "breached"


def worst(*states: str) -> str:
    return max(states, key=STATES.index)


class Compliance:
    """Every backup set of a project against the objectives that select it."""

    def __init__(self, storage: Storage, clock: Clock) -> None:
        self._storage = storage
        self._sets: BackupSets = storage.backup_sets
        self._clock = clock

    def objectives(self, project_id: str) -> list[Objective]:
        records = self._storage.objectives.search(
            scope=Scope(project_id=project_id), query=Query(page=Page(limit=MAX_OBJECTIVES))
        )
        return [Objective.of(record) for record in records]

    def page(
        self, project_id: str, names: dict[str, str], after: str | None, limit: int
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of sets, with their state; the objectives that select no set come on
        the first page. Returns the entries and the marker of the next page."""
        objectives = self.objectives(project_id)
        now = int(self._clock())
        with self._sets.pinned() as sets:
            found = chains.Chains(sets, project_id)
            page: list[SetNames] = (
                list(sets.sets(project_id=project_id, names=names, after=after, limit=limit))
                if names
                else sets.names(project_id=project_id, after=after, limit=limit)
            )
            entries = [self._entry(found, backup_set, objectives, now) for backup_set in page]
            if after is None:
                for objective in objectives:
                    wanted = {**objective.selector, **names}
                    if objective.agrees(names) and not sets.selects_any(
                        project_id=project_id, names=wanted
                    ):
                        entries.append(self._unmatched(objective))
        marker = page[-1].key if len(page) == limit else None
        return entries, marker

    def _entry(
        self, found: chains.Chains, backup_set: SetNames, objectives: list[Objective], now: int
    ) -> dict[str, Any]:
        chain = found.last_restorable_chain(backup_set)
        age = None if chain is None else now - chain.head.time_stamp
        selecting = [objective for objective in objectives if objective.selects(backup_set)]
        objective = min(selecting, key=lambda each: each.max_age, default=None)
        if objective is None:
            state = "uncovered"
        elif chain is None or age is None:
            state = "never"
        else:
            state = state_of(age, objective.max_age)
            if objective.max_level0_age is not None:
                level0_age = now - chain.backups[0].time_stamp
                state = worst(state, state_of(level0_age, objective.max_level0_age))
        return {
            "set_id": backup_set.key,
            "hostname": backup_set.hostname,
            "backup_name": backup_set.backup_name,
            "container": backup_set.container,
            "objective_id": None if objective is None else objective.objective_id,
            "state": state,
            "last_restorable": None
            if chain is None
            else {"backup_id": chain.head.backup_id, "time_stamp": chain.head.time_stamp},
            "age_seconds": age,
        }

    @staticmethod
    def _unmatched(objective: Objective) -> dict[str, Any]:
        return {
            "set_id": None,
            **{name: objective.selector.get(name) for name in SELECTOR_NAMES},
            "objective_id": objective.objective_id,
            "state": "never",
            "last_restorable": None,
            "age_seconds": None,
        }
