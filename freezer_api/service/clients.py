# SPDX-License-Identifier: Apache-2.0
"""Client rules: a scheduler registers itself with its capabilities."""

from __future__ import annotations

import uuid
from typing import Any

from freezer_api.errors import Conflict
from freezer_api.service.documents import Call, Rules, Wiring, require_object
from freezer_api.service.liveness import Liveness
from freezer_api.service.schemas import CAPABILITIES, CLIENT, Validator
from freezer_api.service.search import SearchFields
from freezer_api.storage.base import (
    Change,
    Document,
    Filter,
    Page,
    Query,
    Record,
    Scope,
    Storage,
)

CLIENT_KEYS = ("client_id", "hostname", "description", "uuid", "is_central", *CAPABILITIES)


class ClientRules(Rules):
    """Clients are addressed by their client_id, unique within a project."""

    plural = "clients"
    noun = "client"
    schema = CLIENT
    search_fields = SearchFields(
        columns={
            "client_id": "doc_id",
            "hostname": "hostname",
            "is_central": "is_central",
            "user_id": "user_id",
        },
        path_of=lambda key: ("client", key),
        text=("doc_id", "hostname"),
        sortable={"client_id": "doc_id"},
    )

    #: v2 answers a re-registration by updating; v1 answered 409
    reregister_updates = True

    def __init__(self, liveness: Liveness | None = None) -> None:
        self._validator = Validator(self.schema, "client")
        self._liveness = liveness or Liveness()

    @classmethod
    def build(cls, wiring: Wiring) -> ClientRules:
        return cls(wiring.liveness)

    def liveness(self, call: Call, storage: Storage, records: list[Record]) -> list[Document]:
        """``last_seen`` and ``alive``."""
        seen = storage.contacts.seen(
            scope=Scope(everywhere=True), client_ids=[record.doc_id for record in records]
        )
        return [self._liveness.client_state(seen.get(record.doc_id)) for record in records]

    def create(self, call: Call, storage: Storage, body: Any) -> Record:
        record = self.new_record(call, storage, body, None)
        self._check_central_clash(call, storage, record)
        existing = storage.clients.get(scope=call.scope, doc_id=record.doc_id)
        if existing is None:
            return storage.clients.insert(record)
        if not self.reregister_updates:
            raise Conflict(f"client {record.doc_id} is already registered")
        updated = storage.clients.update(
            scope=call.scope,
            doc_id=record.doc_id,
            change=lambda current: self._reregistered(current, record),
        )
        assert updated is not None
        return updated

    def new_record(self, call: Call, storage: Storage, body: Any, doc_id: str | None) -> Record:
        body = require_object(body, "A client")
        self._validator.check(body)
        client = {key: body[key] for key in CLIENT_KEYS if key in body}
        client.setdefault("uuid", uuid.uuid4().hex)
        client.setdefault("hostname", None)
        client.setdefault("description", "")
        client["is_central"] = bool(client.get("is_central", False))
        for name, values in CAPABILITIES.items():
            client.setdefault(name, list(values))
        return call.new_record(
            client["client_id"], {"client": client}, self.registered_fields(client)
        )

    @staticmethod
    def _check_central_clash(call: Call, storage: Storage, record: Record) -> None:
        """A central client's id is seen by every project, so it must be unique everywhere."""
        same_id = storage.clients.search(
            scope=Scope(everywhere=True),
            query=Query(page=Page(limit=100), filters=(Filter("doc_id", record.doc_id),)),
        )
        for other in same_id:
            if other.project_id == call.project_id:
                continue
            if other.doc["client"]["is_central"] or record.doc["client"]["is_central"]:
                raise Conflict(
                    f"client {record.doc_id} is already registered in another project, "
                    "and a central client's id must be unique"
                )

    @staticmethod
    def fields(client: dict[str, Any]) -> dict[str, Any]:
        return {"hostname": client["hostname"], "is_central": client["is_central"]}

    def registered_fields(self, client: dict[str, Any]) -> dict[str, Any]:
        """The indexed fields of a registration, which is a contact of the scheduler."""
        return {**self.fields(client), "last_seen": int(self._liveness.clock())}

    def _reregistered(self, current: Record, record: Record) -> Change:
        """A scheduler that registers again updates its description and capabilities."""
        client = dict(current.doc["client"])
        for key in ("description", *CAPABILITIES):
            client[key] = record.doc["client"][key]
        return Change(doc={"client": client}, fields=self.registered_fields(client))


class ClientV1Rules(ClientRules):
    """v1 clients: registering the same client_id again is a conflict."""

    reregister_updates = False
