# SPDX-License-Identifier: Apache-2.0
"""Session rules: jobs that run together, started and ended by their schedulers."""

from __future__ import annotations

import time
import uuid
from typing import Any

from freezer_api.errors import InvalidDocument, NotFound, Unprocessable
from freezer_api.service.documents import (
    Call,
    Clock,
    Rules,
    in_transaction,
    require_object,
    without_server_fields,
)
from freezer_api.service.jobs import job_fields, require_job
from freezer_api.service.schemas import JOB_SCHEDULE, SESSION, SESSION_PATCH, Validator
from freezer_api.service.search import SearchFields
from freezer_api.storage.base import Change, Document, Record, Storage

DEFAULT_HOLD_OFF = 30
#: Fields the session state machine owns; create and replace ignore them in a body.
STATE_FIELDS = (
    "status",
    "result",
    "time_start",
    "time_end",
    "time_started",
    "time_ended",
    "jobs",
    "session_id",
)
SCHEDULE_KEYS = frozenset(JOB_SCHEDULE["properties"])


def session_fields(document: Document) -> dict[str, Any]:
    status = document.get("status")
    return {"status": status if isinstance(status, str) and len(status) <= 32 else None}


def new_session(body: Document) -> Document:
    return {
        "description": body.get("description") or "",
        "hold_off": body.get("hold_off", DEFAULT_HOLD_OFF),
        "schedule": body["schedule"],
        "session_tag": body.get("session_tag", 0),
        "status": "active",
        "result": None,
        "time_start": -1,
        "time_end": -1,
        "time_started": -1,
        "time_ended": -1,
        "jobs": {},
        **{
            key: value
            for key, value in body.items()
            if key not in STATE_FIELDS and key not in {"schedule", "description"}
        },
    }


class SessionRules(Rules):
    plural = "sessions"
    noun = "session"
    replace_creates = True
    schema = SESSION
    patch_schema = SESSION_PATCH
    search_fields = SearchFields(
        columns={"session_id": "doc_id", "status": "status", "user_id": "user_id"},
        path_of=lambda key: ("schedule", key) if key in SCHEDULE_KEYS else (key,),
        text=("doc_id", ("description",)),
        sortable={"session_id": "doc_id"},
    )

    def __init__(self) -> None:
        self._validator = Validator(self.schema, "session")
        self._patch_validator = Validator(SESSION_PATCH, "session update")

    def new_record(self, call: Call, storage: Storage, body: Any, doc_id: str | None) -> Record:
        body = without_server_fields(require_object(body, "A session"))
        self._validator.check(body)
        document = new_session(body)
        return call.new_record(doc_id or uuid.uuid4().hex, document, session_fields(document))

    def patched(self, call: Call, storage: Storage, record: Record, body: Any) -> Change:
        body = without_server_fields(require_object(body, "A PATCH body"))
        body.pop("session_id", None)
        self._patch_validator.check(body)
        if "jobs" in body and not isinstance(body["jobs"], dict):
            raise InvalidDocument("Invalid session update: jobs: must be of type object")
        current = record.doc
        for job_id in body.get("jobs", {}).keys() - current.get("jobs", {}).keys():
            # NOTE: only a job the caller sees joins a session; another project's job id
            # would let its start and end answer "success" without touching that job
            if storage.jobs.get(scope=call.scope, doc_id=job_id) is None:
                raise Unprocessable(
                    f"Invalid session update: jobs names {job_id}, which is no job of "
                    "this project; add jobs with PUT .../sessions/<id>/jobs/<job_id>."
                )
        document = {**current, **body}
        document["schedule"] = {**current["schedule"], **body.get("schedule", {})}
        document["jobs"] = {**current.get("jobs", {}), **body.get("jobs", {})}
        return Change(doc=document, fields=session_fields(document))

    def replaced(self, call: Call, storage: Storage, record: Record, body: Any) -> Change:
        body = without_server_fields(require_object(body, "A session"))
        self._validator.check(body)
        kept = {key: record.doc[key] for key in STATE_FIELDS if key in record.doc}
        document = {**new_session(body), **kept}
        return Change(doc=document, fields=session_fields(document))


def joined_schedule(job_schedule: Document, session_schedule: Document) -> Document:
    """The schedule of a job that joins a session: when to run is the session's alone.

    freezer-api 19.0.0 replaces the job's whole schedule with the session's. Here the
    job keeps what its runs recorded (``time_created``, ``time_started``, ``status``,
    ``current_pid``, ...), so its history survives, while every ``schedule_*`` key comes
    from the session only: a job's own ``schedule_interval`` beside the session's
    ``schedule_date`` would make it run when the session does not.
    """
    kept = {key: value for key, value in job_schedule.items() if not key.startswith("schedule_")}
    return {**kept, **session_schedule}


def _job_entry(job: Record) -> Document:
    schedule = job.doc["job_schedule"]
    return {
        "client_id": job.doc["client_id"],
        "status": schedule.get("status", ""),
        "result": schedule.get("result", ""),
        "time_started": schedule.get("time_started", -1),
        "time_ended": schedule.get("time_ended", -1),
    }


def _require_int(arguments: Document, key: str) -> int:
    value = arguments.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidDocument(f"The session action needs {key} as an integer.")
    return value


class SessionActions:
    """The session state machine, and the jobs that belong to a session.

    Every operation locks the session first and then the job, so concurrent
    schedulers take turns and never deadlock.
    """

    def __init__(self, storage: Storage, clock: Clock = time.time) -> None:
        self._storage = storage
        self._clock = clock

    def add_job(self, call: Call, session_id: str, job_id: str) -> None:
        in_transaction(
            self._storage, lambda storage: self._add_job(storage, call, session_id, job_id)
        )

    def _add_job(self, storage: Storage, call: Call, session_id: str, job_id: str) -> None:
        job = require_job(storage, call, job_id)

        def add(session: Record) -> Change:
            document = {
                **session.doc,
                "jobs": {**session.doc.get("jobs", {}), job_id: _job_entry(job)},
            }
            return Change(doc=document, fields=session_fields(document))

        session = self._update_session(storage, call, session_id, add)

        def join(current: Record) -> Change:
            schedule = joined_schedule(current.doc["job_schedule"], session.doc["schedule"])
            document = {
                **current.doc,
                "session_id": session_id,
                "session_tag": session.doc["session_tag"],
                "job_schedule": schedule,
            }
            return Change(doc=document, fields=job_fields(document))

        storage.jobs.update(scope=call.scope, doc_id=job_id, change=join)

    def remove_job(self, call: Call, session_id: str, job_id: str) -> None:
        in_transaction(
            self._storage, lambda storage: self._remove_job(storage, call, session_id, job_id)
        )

    def _remove_job(self, storage: Storage, call: Call, session_id: str, job_id: str) -> None:

        def remove(session: Record) -> Change:
            jobs = dict(session.doc.get("jobs") or {})
            if jobs.pop(job_id, None) is None:
                raise NotFound(f"Job {job_id} is not in session {session_id}")
            document = {**session.doc, "jobs": jobs}
            return Change(doc=document, fields=session_fields(document))

        self._update_session(storage, call, session_id, remove)

        def leave(current: Record) -> Change:
            schedule = {**current.doc["job_schedule"], "event": "stop"}
            document = {
                **current.doc,
                "session_id": "",
                "session_tag": 0,
                "job_schedule": schedule,
            }
            return Change(doc=document, fields=job_fields(document))

        storage.jobs.update(scope=call.scope, doc_id=job_id, change=leave)

    def act(
        self, call: Call, session_id: str, body: Any, if_version: int | None = None
    ) -> Document:
        """Run ``{"start": {...}}`` or ``{"end": {...}}``; return ``{result, session_tag}``."""
        if not isinstance(body, dict) or len(body) != 1:
            raise InvalidDocument(
                'A session action must be {"start": {"job_id", "current_tag"}} or '
                '{"end": {"job_id", "current_tag", "result"}}.'
            )
        action, arguments = next(iter(body.items()))
        if action not in ("start", "end"):
            raise InvalidDocument(f"Unknown session action {action!r}; expected start or end.")
        if not isinstance(arguments, dict):
            raise InvalidDocument(f"The {action} arguments must be a JSON object.")
        job_id = arguments.get("job_id")
        if not isinstance(job_id, str) or not job_id:
            raise InvalidDocument("The session action needs job_id as a string.")
        tag = _require_int(arguments, "current_tag")
        now = int(self._clock())
        outcome: Document = {}

        def change(session: Record) -> Change:
            if job_id not in (session.doc.get("jobs") or {}):
                raise InvalidDocument(f"job_id {job_id} not found in session {session_id}")
            if action == "start":
                document, outcome["result"] = _start(session.doc, job_id, tag, now)
            else:
                document, outcome["result"] = end_job(session.doc, job_id, arguments, now)
            outcome["session_tag"] = document["session_tag"]
            return Change(doc=document, fields=session_fields(document))

        in_transaction(
            self._storage,
            lambda storage: self._update_session(storage, call, session_id, change, if_version),
        )
        return outcome

    @staticmethod
    def _update_session(
        storage: Storage, call: Call, session_id: str, change: Any, if_version: int | None = None
    ) -> Record:
        record = storage.sessions.update(
            scope=call.scope, doc_id=session_id, change=change, if_version=if_version
        )
        if record is None:
            raise NotFound(f"No session found with id {session_id}")
        return record


def _start(session: Document, job_id: str, tag: int, now: int) -> tuple[Document, str]:
    """A scheduler starts its job of the session at ``now``: "success", "hold-off" or
    "out-of-sync"."""
    session_tag = session["session_tag"]
    if tag > session_tag:
        raise InvalidDocument(
            f"requested tag value too high. Session Tag: {session_tag} Job Tag: {tag}"
        )
    jobs = {key: dict(value) for key, value in session["jobs"].items()}
    hold_off = session.get("hold_off", DEFAULT_HOLD_OFF)
    within_hold_off = now - session.get("time_start", -1) <= hold_off
    if within_hold_off:
        if tag < session_tag:
            jobs[job_id]["status"] = "running"
            return {**session, "jobs": jobs}, "success"
        return session, "hold-off"
    if tag == session_tag:
        jobs[job_id]["status"] = "running"
        started = {
            **session,
            "jobs": jobs,
            "session_tag": session_tag + 1,
            "time_start": now,
            "status": "running",
            "result": "",
        }
        return started, "success"
    return session, "out-of-sync"


def end_job(session: Document, job_id: str, arguments: Document, now: int) -> tuple[Document, str]:
    """A scheduler ends its job of the session at ``now``; the last one ends the session."""
    result = arguments.get("result")
    if not isinstance(result, str):
        raise InvalidDocument("The end action needs result as a string.")
    jobs = {key: dict(value) for key, value in session["jobs"].items()}
    jobs[job_id].update(status="completed", result=result, time_ended=now)
    document = {**session, "jobs": jobs}
    if all(entry.get("status") == "completed" for entry in jobs.values()):
        succeeded = all(entry.get("result") == "success" for entry in jobs.values())
        document.update(status="completed", time_end=now, result="success" if succeeded else "fail")
    return document, "success"
