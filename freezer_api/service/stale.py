# SPDX-License-Identifier: Apache-2.0
"""Stale jobs ended as their scheduler would have (``[jobs] fail_stale``)."""

from __future__ import annotations

import logging
import os
import random
import threading
import time

from freezer_api.context import act_as
from freezer_api.errors import FreezerError
from freezer_api.service.documents import in_transaction
from freezer_api.service.jobs import job_fields
from freezer_api.service.liveness import Liveness
from freezer_api.service.sessions import end_job, session_fields
from freezer_api.storage.base import Change, Page, Query, Record, Scope, Storage

LOG = logging.getLogger(__name__)
#: most jobs one sweep ends before it looks again
BATCH = 100


def end_stale_jobs(storage: Storage, liveness: Liveness, limit: int = BATCH) -> list[str]:
    """End up to ``limit`` stale jobs, in every project, as their scheduler would have
    (``[jobs] fail_stale``): status completed, result fail, time_ended; and the job's
    entry in its session. Each job is checked again under its lock, so that a job is ended
    once, whichever process gets to it first, and not once its client is back. Returns the
    ids of the jobs ended."""
    act_as(None)  # the server's own changes
    everywhere = Scope(everywhere=True)
    stale = liveness.stale_filters(storage, everywhere)
    if stale is None:
        return []
    candidates = storage.jobs.search(
        scope=everywhere, query=Query(page=Page(limit=limit), filters=stale)
    )
    ended = []
    for job in candidates:
        if _end_if_stale(storage, liveness, job):
            ended.append(job.doc_id)
            LOG.warning(
                "job %s of project %s ended as failed: its client %s has not been in contact "
                "for over %d s ([jobs] fail_stale)",
                job.doc_id,
                job.project_id,
                job.doc.get("client_id"),
                liveness.lease_seconds,
            )
    return ended


def _end_if_stale(storage: Storage, liveness: Liveness, job: Record) -> bool:
    scope = Scope(project_id=job.project_id)
    now = int(liveness.clock())

    def end(current: Record) -> Change | None:
        schedule = dict(current.doc.get("job_schedule") or {})
        client_id = current.doc.get("client_id")
        if schedule.get("status") != "running" or not isinstance(client_id, str):
            return None
        seen = storage.contacts.seen(scope=Scope(everywhere=True), client_ids=[client_id])
        if not liveness.is_stale("running", seen.get(client_id)):
            return None
        schedule.update(status="completed", result="fail", time_ended=now)
        document = {**current.doc, "job_schedule": schedule}
        return Change(doc=document, fields=job_fields(document))

    def work(transaction: Storage) -> bool:
        before = transaction.jobs.get(scope=scope, doc_id=job.doc_id)
        after = transaction.jobs.update(scope=scope, doc_id=job.doc_id, change=end)
        if before is None or after is None or after.version == before.version:
            return False
        session_id = after.doc.get("session_id")
        if session_id:
            transaction.sessions.update(
                scope=scope,
                doc_id=session_id,
                change=lambda session: _session_ended(session, job.doc_id, now),
            )
        return True

    return in_transaction(storage, work)


def _session_ended(session: Record, job_id: str, now: int) -> Change | None:
    entry = (session.doc.get("jobs") or {}).get(job_id)
    if not isinstance(entry, dict) or entry.get("status") == "completed":
        return None
    document, _ = end_job(session.doc, job_id, {"result": "fail"}, now)
    return Change(doc=document, fields=session_fields(document))


class StaleJobSweeper:
    """Ends stale jobs every quarter of the lease, in a thread of each API process.

    A falcon middleware: the first request a process serves starts its thread. NOTE: not
    at the app's creation, which a server may do before it forks its workers (uwsgi
    without ``--lazy-apps``), whose children have none of the parent's threads.
    """

    def __init__(self, storage: Storage, liveness: Liveness) -> None:
        self._storage = storage
        self._liveness = liveness
        self._pid: int | None = None
        self._lock = threading.Lock()

    @property
    def every(self) -> float:
        return max(5.0, self._liveness.lease_seconds / 4)

    def process_request(self, req: object, resp: object) -> None:
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            threading.Thread(target=self._run, name="stale-jobs", daemon=True).start()

    def _run(self) -> None:
        # NOTE: the processes of a deployment start together: spread their sweeps
        while True:
            time.sleep(self.every * random.uniform(0.75, 1.25))
            try:
                while len(end_stale_jobs(self._storage, self._liveness)) == BATCH:
                    pass
            except FreezerError:
                LOG.warning("stale jobs were not swept; next try in %.0f s", self.every)
            except Exception:  # noqa: BLE001 - the sweeps go on; the error is logged
                LOG.exception("stale jobs were not swept; next try in %.0f s", self.every)
