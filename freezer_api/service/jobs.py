# SPDX-License-Identifier: Apache-2.0
"""Job rules: a schedule, a client to run it, and an ordered list of actions."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections import defaultdict
from typing import Any

from freezer_api.errors import Conflict, InvalidDocument, NotFound, Unprocessable
from freezer_api.service.actions import new_action, same_definition
from freezer_api.service.documents import (
    Call,
    Clock,
    Rules,
    TrustProvider,
    Wiring,
    in_transaction,
    require_object,
    without_server_fields,
)
from freezer_api.service.liveness import Liveness
from freezer_api.service.schemas import JOB, JOB_PATCH, JOB_SCHEDULE, Validator
from freezer_api.service.search import Search, SearchFields
from freezer_api.storage.base import (
    AnyOf,
    Change,
    Document,
    Filter,
    Page,
    Query,
    Record,
    Scope,
    Storage,
)

SCHEDULE_KEYS = frozenset(JOB_SCHEDULE["properties"])
TRUSTOR = ("user_credentials", "trustor_user_id")
TRUST_ID = ("user_credentials", "trust_id")


#: What the scheduler is told about each step, besides the action itself.
JOB_ACTION_KEYS = ("action_id", "freezer_action", "max_retries", "max_retries_interval")
EVENTS = ("start", "stop", "abort")
#: The capability list of a client that each freezer_action key must be in.
CAPABILITY_OF = {
    "action": "supported_actions",
    "mode": "supported_modes",
    "storage": "supported_storages",
    "engine_name": "supported_engines",
}


def job_fields(document: Document) -> dict[str, Any]:
    schedule = document.get("job_schedule", {})
    return {
        "client_id": document.get("client_id"),
        "session_id": document.get("session_id") or None,
        "status": schedule.get("status"),
        "event": schedule.get("event"),
        "result": schedule.get("result"),
    }


@dataclasses.dataclass
class JobActions:
    """Resolves a job's ``job_actions`` into references to stored actions."""

    call: Call
    storage: Storage

    def resolve(self, job_actions: list[Document], defaults: Document) -> list[Document]:
        return [self._reference(item, defaults) for item in job_actions]

    def _reference(self, item: Document, defaults: Document) -> Document:
        freezer_action = item.get("freezer_action")
        if freezer_action is not None and defaults:
            freezer_action = {
                **defaults,
                **{key: value for key, value in freezer_action.items() if value is not None},
            }
        action_id = item.get("action_id")
        existing = (
            self.storage.actions.get(scope=self.call.scope, doc_id=action_id) if action_id else None
        )
        if existing is not None:
            if freezer_action is not None and not same_definition(
                freezer_action, existing.doc["freezer_action"]
            ):
                raise Unprocessable(
                    f"Action {action_id} already exists with a different definition; "
                    "update the action, or leave out its action_id to create a new one."
                )
            freezer_action = existing.doc["freezer_action"]
        elif freezer_action is None:
            raise Unprocessable(f"Action id: {action_id} not found.")
        else:
            action_id = self._create_action(action_id, {**item, "freezer_action": freezer_action})
        extras = {key: value for key, value in item.items() if key not in JOB_ACTION_KEYS}
        mandatory = item.get("mandatory", freezer_action.get("mandatory", False))
        return {**extras, "action_id": action_id, "mandatory": bool(mandatory)}

    def _create_action(self, action_id: str | None, item: Document) -> str:
        return self.storage.actions.insert(
            new_action(self.call, self.storage, action_id, item)
        ).doc_id

    def check_client(self, client_id: str, references: list[Document]) -> Document:
        """The client must be visible and able to run every action (422 otherwise)."""
        scope = dataclasses.replace(self.call.scope, shared=True)
        client_record = self.storage.clients.get(scope=scope, doc_id=client_id)
        if client_record is None:
            raise Unprocessable(f"Client not found with ID {client_id}")
        client = client_record.doc["client"]
        actions = self.storage.actions.get_many(
            scope=self.call.scope, doc_ids=[ref["action_id"] for ref in references]
        )
        for reference in references:
            freezer_action = actions[reference["action_id"]].doc["freezer_action"]
            for key, capability in CAPABILITY_OF.items():
                value = freezer_action.get(key)
                if value is not None and value not in client.get(capability, []):
                    raise Unprocessable(f"Client {client_id} does not support {key}: {value}")
        found: Document = client
        return found


class JobRules(Rules):
    """Jobs have a client-chosen or generated id, unique across all projects."""

    plural = "jobs"
    noun = "job"
    replace_creates = True
    schema = JOB
    patch_schema = JOB_PATCH
    search_fields = SearchFields(
        columns={
            "job_id": "doc_id",
            "client_id": "client_id",
            "session_id": "session_id",
            "status": "status",
            "event": "event",
            "result": "result",
            "user_id": "user_id",
        },
        path_of=lambda key: ("job_schedule", key) if key in SCHEDULE_KEYS else (key,),
        text=("doc_id", "client_id", ("description",)),
        sortable={"job_id": "doc_id", "client_id": "client_id", "session_id": "session_id"},
    )

    def __init__(
        self,
        trusts: TrustProvider | None = None,
        clock: Clock = time.time,
        liveness: Liveness | None = None,
    ) -> None:
        self._validator = Validator(self.schema, "job")
        self._patch_validator = Validator(JOB_PATCH, "job update")
        self._trusts = trusts
        self._clock = clock
        self._liveness = liveness or Liveness(clock=clock)

    @classmethod
    def build(cls, wiring: Wiring) -> JobRules:
        return cls(wiring.trusts, wiring.clock, wiring.liveness)

    def seen(
        self, call: Call, storage: Storage, *, search: Search | None = None, body: Any = None
    ) -> None:
        """A scheduler's poll names its client in the search; its job updates in the body."""
        named: list[Any] = []
        if search is not None:
            named = [value for key, value in search.match if key == "client_id"]
        elif isinstance(body, dict):
            named = [body.get("client_id")]
        for client_id in named:
            if isinstance(client_id, str) and client_id:
                self._liveness.contact(storage, call.scope, client_id)

    def derived_filters(
        self, call: Call, storage: Storage, search: Search
    ) -> tuple[Filter | AnyOf, ...]:
        if not search.stale:
            return ()
        found = self._liveness.stale_filters(storage, dataclasses.replace(call.scope, shared=True))
        return (AnyOf(()),) if found is None else found  # NOTE: no stale client: no job

    def liveness(self, call: Call, storage: Storage, records: list[Record]) -> list[Document]:
        """``stale``, and the last contact of the job's client."""
        clients = [str(record.doc.get("client_id")) for record in records]
        seen = storage.contacts.seen(
            scope=dataclasses.replace(call.scope, shared=True), client_ids=clients
        )
        added = []
        for record, client_id in zip(records, clients, strict=True):
            last_seen = seen.get(client_id)
            status = record.doc.get("job_schedule", {}).get("status")
            added.append(
                {
                    "stale": self._liveness.is_stale(status, last_seen),
                    "client_last_seen": last_seen,
                }
            )
        return added

    def new_record(self, call: Call, storage: Storage, body: Any, doc_id: str | None) -> Record:
        body = without_server_fields(require_object(body, "A job"))
        if doc_id is not None:
            body["job_id"] = doc_id
        self._validator.check(body)
        job_id = body.get("job_id") or uuid.uuid4().hex
        if storage.jobs.exists(doc_id=job_id):
            raise Conflict(f"Job already registered with ID {job_id}")
        schedule = dict(body.get("job_schedule", {}))
        if doc_id is None:
            now = int(self._clock())
            schedule.update(time_created=now, time_started=-1, time_ended=-1)
        document, client = self._document(call, storage, body, schedule)
        if doc_id is None and self._trusts is not None and client.get("is_central"):
            document["user_credentials"] = self._credentials(call, storage)
        return call.new_record(job_id, document, job_fields(document))

    def patched(self, call: Call, storage: Storage, record: Record, body: Any) -> Change:
        body = without_server_fields(require_object(body, "A PATCH body"))
        body.pop("job_id", None)
        self._patch_validator.check(body)
        current = record.doc
        merged = {**current, **body}
        merged["job_schedule"] = {**current["job_schedule"], **body.get("job_schedule", {})}
        if "job_actions" in body:
            merged["job_actions"] = self._references(call, storage, body)
        if "job_actions" in body or "client_id" in body:
            JobActions(call, storage).check_client(merged["client_id"], merged["job_actions"])
        merged.pop("action_defaults", None)
        return Change(doc=merged, fields=job_fields(merged))

    def replaced(self, call: Call, storage: Storage, record: Record, body: Any) -> Change:
        body = without_server_fields(require_object(body, "A job"))
        body["job_id"] = record.doc_id
        self._validator.check(body)
        previous = record.doc["job_schedule"]
        kept = {
            key: previous[key]
            for key in ("time_created", "time_started", "time_ended")
            if key in previous
        }
        schedule = {**kept, **body.get("job_schedule", {})}
        document, _client = self._document(call, storage, body, schedule)
        if "user_credentials" in record.doc:
            document["user_credentials"] = record.doc["user_credentials"]
        return Change(doc=document, fields=job_fields(document))

    def _credentials(self, call: Call, storage: Storage) -> Document:
        """Reuse the caller's trust for this project, or have Keystone create one."""
        assert self._trusts is not None
        owned = storage.jobs.search(
            scope=Scope(project_id=call.project_id),
            query=Query(
                page=Page(limit=1),
                filters=(Filter(TRUSTOR, call.identity.user_id),),
            ),
        )
        if owned:
            credentials: Document = owned[0].doc["user_credentials"]
            return credentials
        return self._trusts.create(call.identity)

    def deleted(self, call: Call, storage: Storage, record: Record) -> None:
        """Delete the job's trust when no other job of the project uses it."""
        trust_id = record.doc.get("user_credentials", {}).get("trust_id")
        if not trust_id or self._trusts is None:
            return
        still_used = storage.jobs.search(
            scope=Scope(project_id=record.project_id),
            query=Query(page=Page(limit=1), filters=(Filter(TRUST_ID, trust_id),)),
        )
        if not still_used:
            self._trusts.delete(call.identity, trust_id)

    def _references(self, call: Call, storage: Storage, body: Document) -> list[Document]:
        defaults = body.get("action_defaults", {})
        return JobActions(call, storage).resolve(body["job_actions"], defaults)

    def _document(
        self, call: Call, storage: Storage, body: Document, schedule: Document
    ) -> tuple[Document, Document]:
        """Return the stored form of a job, and the client that runs it."""
        references = self._references(call, storage, body)
        client = JobActions(call, storage).check_client(body["client_id"], references)
        document = {
            "job_schedule": schedule,
            "client_id": body["client_id"],
            "session_id": body.get("session_id") or "",
            "session_tag": body.get("session_tag", 0),
            "description": body.get("description") or "",
            "job_actions": references,
        }
        return document, client

    def expand(self, call: Call, storage: Storage, records: list[Record]) -> list[Record]:
        """Show each job's actions in full, read with one query per project."""
        wanted: dict[str, list[str]] = defaultdict(list)
        for record in records:
            wanted[record.project_id] += [ref["action_id"] for ref in record.doc["job_actions"]]
        found = {
            project_id: storage.actions.get_many(scope=Scope(project_id=project_id), doc_ids=ids)
            for project_id, ids in wanted.items()
        }
        expanded = [self._expanded(record, found[record.project_id]) for record in records]
        return expanded if call.privileged else self._without_foreign_pids(call, storage, expanded)

    @staticmethod
    def _without_foreign_pids(call: Call, storage: Storage, records: list[Record]) -> list[Record]:
        """Hide the process ids of another project's (central) scheduler from a tenant."""
        client_ids = {record.doc["client_id"] for record in records}
        clients = storage.clients.get_many(scope=Scope(everywhere=True), doc_ids=sorted(client_ids))
        shown = []
        for record in records:
            client = clients.get(record.doc["client_id"])
            schedule = record.doc["job_schedule"]
            foreign = client is not None and client.project_id != call.identity.project_id
            if foreign and "current_pid" in schedule:
                schedule = {k: v for k, v in schedule.items() if k != "current_pid"}
                record = dataclasses.replace(record, doc={**record.doc, "job_schedule": schedule})
            shown.append(record)
        return shown

    @staticmethod
    def _expanded(record: Record, actions: dict[str, Record]) -> Record:
        job_actions = []
        for reference in record.doc["job_actions"]:
            action = actions.get(reference["action_id"])
            if action is None:
                continue  # NOTE: a deleted action leaves the jobs that used it.
            job_actions.append({"action": action, **reference})
        return dataclasses.replace(record, doc={**record.doc, "job_actions": job_actions})


def event_of(body: Any) -> str:
    """Return the event a job event body asks for (only its first key counts)."""
    if not isinstance(body, dict) or not body:
        raise InvalidDocument(
            'A job event must be a JSON object such as {"start": null}, {"stop": null} '
            'or {"abort": null}.'
        )
    event = str(next(iter(body)))
    if event not in EVENTS:
        raise InvalidDocument(f"Unknown job event {event!r}; expected one of {', '.join(EVENTS)}.")
    return event


def apply_event(record: Record, event: str) -> tuple[Change | None, str]:
    """Return the change an event makes (None when already requested) and the result text."""
    schedule = dict(record.doc["job_schedule"])
    if schedule.get("event") == event:
        return None, f"{event} already requested"
    schedule["event"] = event
    if event == "start":
        schedule.update(status="", result="")
    document = {**record.doc, "job_schedule": schedule}
    return Change(doc=document, fields=job_fields(document)), "success"


def require_job(storage: Storage, call: Call, job_id: str) -> Record:
    record = storage.jobs.get(scope=call.scope, doc_id=job_id)
    if record is None:
        raise NotFound(f"No job found with id {job_id}")
    return record


class JobEvents:
    """``POST /jobs/{id}/event``: ask the job's scheduler to start, stop or abort it."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def send(self, call: Call, job_id: str, body: Any, if_version: int | None) -> str:
        """Record the event; return "success" or "<event> already requested"."""
        event = event_of(body)
        outcome: dict[str, str] = {}

        def change(record: Record) -> Change | None:
            changed, outcome["result"] = apply_event(record, event)
            return changed

        record = in_transaction(
            self._storage,
            lambda storage: storage.jobs.update(
                scope=call.scope, doc_id=job_id, change=change, if_version=if_version
            ),
        )
        if record is None:
            raise NotFound(f"No job found with id {job_id}")
        return str(outcome["result"])
