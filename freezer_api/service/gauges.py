# SPDX-License-Identifier: Apache-2.0
"""The catalogue's gauges for ``/metrics``: what an operator alerts on."""

from __future__ import annotations

import dataclasses

from prometheus_client.core import Metric

from freezer_api.metrics import gauge
from freezer_api.service.documents import Clock
from freezer_api.service.liveness import Liveness
from freezer_api.service.objectives import Compliance
from freezer_api.storage.base import Page, Query, Scope, Storage

SET_LABELS = ["project_id", "hostname", "backup_name", "container"]
#: backup sets read per page
PAGE = 1000
#: most running jobs counted per project
MAX_COUNTED = 10_000


@dataclasses.dataclass(frozen=True)
class CatalogueGauges:
    storage: Storage
    liveness: Liveness
    clock: Clock
    #: most backup sets (all projects) the gauges describe
    max_sets: int = 10_000
    #: most clients the gauges describe
    max_clients: int = 10_000

    def read(self) -> list[Metric]:
        restorable = gauge(
            "freezer_backup_set_last_restorable_timestamp_seconds",
            "Time stamp of the newest backup of the set whose whole chain can be restored.",
            SET_LABELS,
        )
        state = gauge(
            "freezer_backup_set_objective_state",
            "1 for the set's state against its freshness objective (met, late, breached, "
            "never, uncovered).",
            [*SET_LABELS, "state"],
        )
        contact = gauge(
            "freezer_client_last_seen_timestamp_seconds",
            "Time of the client's (scheduler's) last contact.",
            ["project_id", "client_id"],
        )
        jobs = gauge(
            "freezer_jobs", "Jobs by the status of their schedule.", ["project_id", "status"]
        )
        stale = gauge(
            "freezer_jobs_stale",
            "Running jobs whose client has been silent beyond [jobs] lease_seconds.",
            ["project_id"],
        )
        left = self.max_sets
        compliance = Compliance(self.storage, self.clock)
        for project_id in self.storage.backup_sets.projects():
            marker: str | None = None
            while left > 0:
                entries, marker = compliance.page(project_id, {}, marker, min(PAGE, left))
                for entry in entries:
                    if entry["set_id"] is None:
                        continue
                    left -= 1
                    names = [project_id, *(entry[name] or "" for name in SET_LABELS[1:])]
                    if entry["last_restorable"] is not None:
                        restorable.add_metric(names, entry["last_restorable"]["time_stamp"])
                    state.add_metric([*names, entry["state"]], 1)
                if marker is None:
                    break
        for project_id, client_id, last_seen in self.storage.tallies.clients_seen(self.max_clients):
            if last_seen is not None:
                contact.add_metric([project_id, client_id], last_seen)
        projects = set()
        for project_id, status, count in self.storage.tallies.jobs_by_status():
            jobs.add_metric([project_id, status or ""], count)
            projects.add(project_id)
        for project_id in sorted(projects):
            stale.add_metric([project_id], self._stale(project_id))
        return [restorable, state, contact, jobs, stale]

    def _stale(self, project_id: str) -> int:
        scope = Scope(project_id=project_id, shared=True)
        stale = self.liveness.stale_filters(self.storage, scope)
        if stale is None:
            return 0
        found = self.storage.jobs.search(
            scope=Scope(project_id=project_id),
            query=Query(page=Page(limit=MAX_COUNTED), filters=stale),
        )
        return len(found)
